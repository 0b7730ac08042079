// animgraph console: plain JavaScript, no build step. Talks to /console/api/* with the session
// cookie (HttpOnly: this script never sees it) and the X-Animgraph-Console header.
"use strict";

(() => {
  const POLL_MS = 1500;
  const view = document.getElementById("view");
  const statusRegion = document.getElementById("status");
  let timer = null;            // the current view's poller
  let routeToken = 0;          // bumps on each route change: late answers of old views are dropped
  let session = null;
  let flash = "";              // a message for the next view ("Created template 100001.")
  let sizeLabels = {};         // MaxSize bytes -> {Short: "10 MB", Text, Input}, from the server

  // --- helpers -------------------------------------------------------------------------------

  /** Build an element: h("p", {class: "x", onclick: fn}, "text", child, ...). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  class ApiError extends Error {
    constructor(code, message) {
      super(`${code}: ${message}`);
      this.code = code;
      this.apiMessage = message;
    }
  }

  async function api(path, body) {
    const init = { method: "GET", headers: { "X-Animgraph-Console": "1" }, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`api/${path}`, init);
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) {
      const error = new ApiError(data.Error?.Code || `HTTP${response.status}`, data.Error?.Message || response.statusText);
      if (error.code === "AuthFailure.SessionRequired") showSignIn();
      throw error;
    }
    return data;
  }

  function announce(text) {
    statusRegion.textContent = "";
    setTimeout(() => { statusRegion.textContent = text; }, 30);
  }

  function bytes(n) {
    if (!n && n !== 0) return "";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${i ? v.toFixed(1) : v} ${units[i]} (${n.toLocaleString("en")} bytes)`;
  }

  const seconds = (s) => (s === null || s === undefined ? "" : `${Number(s).toFixed(2).replace(/\.?0+$/, "")} s`);
  const when = (iso) => (iso ? iso.replace("T", " ").replace("Z", " UTC") : "");

  function offsets(item) {
    const start = item.StartTimeOffset, end = item.EndTimeOffset;
    const a = start === null || start === undefined ? "start" : seconds(start);
    const b = end === null || end === undefined ? "end" : seconds(end);
    return `${a} → ${b}`;
  }

  function alertBox(id) {
    return h("div", { id, class: "alert", role: "alert" });
  }

  function showError(box, error) {
    box.textContent = error instanceof ApiError ? `${error.code}: ${error.apiMessage}` : String(error);
  }

  function statusText(status) {
    return h("span", { class: `status status-${status}` }, status);
  }

  function progressBar(value, label) {
    return h("span", {},
      h("progress", { max: 100, value, "aria-label": label }, `${value}%`),
      ` ${value}%`);
  }

  function heading(text) {
    document.title = `${text} · animgraph console`;
    return h("h1", { tabindex: "-1", id: "view-title" }, text);
  }

  function render(...nodes) {
    view.replaceChildren(...nodes);
    const title = document.getElementById("view-title");
    if (title) title.focus();
  }

  /** Show ``hash``'s view (again, if it is the current one). */
  function go(hash, message) {
    flash = message || "";
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  /** The view's notice area, with the flash message if there is one. */
  function noticeBox(id) {
    const box = h("div", { id, "aria-live": "polite" });
    if (flash) {
      box.className = "notice";
      box.textContent = flash;
      flash = "";
    }
    return box;
  }

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function poll(token, fn) {
    const tick = async () => {
      if (token !== routeToken) return;
      let again = true;
      try { again = (await fn()) !== false; } catch (error) { console.warn(error); }
      if (again && token === routeToken) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
  }

  // --- sign-in -------------------------------------------------------------------------------

  function setSignedIn(info) {
    session = info;
    document.getElementById("nav").hidden = !info.SignedIn;
    document.getElementById("account").hidden = !info.SignedIn;
    document.getElementById("user").textContent = info.SignedIn ? `Signed in as ${info.User}` : "";
  }

  function showSignIn() {
    stopPolling();
    routeToken++;
    setSignedIn({ SignedIn: false, PasswordSignIn: session?.PasswordSignIn });
    const error = alertBox("signin-error");
    const fields = [];
    if (session?.PasswordSignIn !== false) {
      fields.push(h("div", { class: "field" },
        h("label", { for: "password" }, "Console password"),
        h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password" })));
    }
    fields.push(h("fieldset", {},
      h("legend", {}, session?.PasswordSignIn === false ? "API key pair" : "Or an API key pair"),
      h("div", { class: "field" },
        h("label", { for: "secret-id" }, "SecretId"),
        h("input", { type: "text", id: "secret-id", name: "secret-id", autocomplete: "username", spellcheck: "false" })),
      h("div", { class: "field" },
        h("label", { for: "secret-key" }, "SecretKey"),
        h("input", { type: "password", id: "secret-key", name: "secret-key", autocomplete: "off" }))));
    const form = h("form", { class: "card signin", id: "signin-form", novalidate: true },
      ...fields, error,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const value = (id) => document.getElementById(id)?.value || "";
      try {
        const answer = await api("login", { Password: value("password"), SecretId: value("secret-id"), SecretKey: value("secret-key") });
        setSignedIn({ ...session, ...answer, SignedIn: true });
        announce("Signed in");
        if (!location.hash || location.hash === "#/" || location.hash === "#/signin") location.hash = "#/media";
        else route();
      } catch (e) {
        showError(error, e);
      }
    });
    render(heading("Sign in"), form);
  }

  document.getElementById("sign-out").addEventListener("click", async () => {
    try { await api("logout", {}); } catch (_) { /* signed out anyway */ }
    announce("Signed out");
    showSignIn();
  });

  // --- shared pieces: template choices and animated-image entries -----------------------------

  /** The templates with the form's fields; keeps the labels of their budgets. */
  async function loadTemplates() {
    const data = await api("templates");
    Object.assign(sizeLabels, data.Sizes || {});
    return data;
  }

  /** A template's budget in a few words ("10 MB"), "" for none. */
  function budgetShort(t) {
    return t.MaxSize ? sizeLabels[t.MaxSize]?.Short || `${t.MaxSize} bytes` : "";
  }

  function templateLabel(t) {
    const size = t.Width || t.Height ? `${t.Width || "auto"}×${t.Height || "auto"}` : "source size";
    const loop = t.LoopMode && t.LoopMode !== "Forward" ? ` ${t.LoopMode}` : "";
    const budget = t.MaxSize ? ` ≤ ${budgetShort(t)}` : "";
    return `${t.Definition} · ${t.Format} ${t.Fps} fps ${size}${loop}${budget}${t.Name ? ` · ${t.Name}` : ""}${t.Type === "Preset" ? " (preset)" : ""}`;
  }

  /** A fieldset of animated-image entries (template + offsets) with add/remove buttons. */
  function entriesEditor(templates, initial, legend) {
    const list = h("div", { class: "entries" });
    let serial = 0;
    const addEntry = (item) => {
      const n = ++serial;
      const select = h("select", { id: `entry-${n}-definition`, name: "definition" },
        templates.map((t) => h("option", { value: t.Definition, selected: item && item.Definition === t.Definition }, templateLabel(t))));
      const num = (name, value) => h("input", { type: "number", step: "any", id: `entry-${n}-${name}`, name, value: value ?? "" });
      const row = h("div", { class: "entry", dataset: { entry: "1" } },
        h("div", { class: "field" }, h("label", { for: `entry-${n}-definition` }, "Template"), select),
        h("div", { class: "field" }, h("label", { for: `entry-${n}-start` }, "Start offset (s)"), num("start", item?.StartTimeOffset),
          h("span", { class: "hint" }, "empty: start; negative: from the end")),
        h("div", { class: "field" }, h("label", { for: `entry-${n}-end` }, "End offset (s)"), num("end", item?.EndTimeOffset),
          h("span", { class: "hint" }, "empty: end of the video")),
        h("button", { type: "button", class: "danger", "aria-label": `Remove image ${n}`, onclick: () => { row.remove(); } }, "Remove"));
      list.append(row);
      return row;
    };
    for (const item of initial.length ? initial : [null]) addEntry(item);
    const fieldset = h("fieldset", {},
      h("legend", {}, legend),
      list,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => addEntry(null).querySelector("select").focus() }, "Add an image")));
    fieldset.values = () => [...list.querySelectorAll("[data-entry]")].map((row) => {
      const item = { Definition: Number(row.querySelector("select").value) };
      const start = row.querySelector('[name="start"]').value;
      const end = row.querySelector('[name="end"]').value;
      if (start !== "") item.StartTimeOffset = Number(start);
      if (end !== "") item.EndTimeOffset = Number(end);
      return item;
    });
    return fieldset;
  }

  // --- media ---------------------------------------------------------------------------------

  async function mediaView(token, selected) {
    const [media, templates, flows] = await Promise.all([api("media"), loadTemplates(), api("flows")]);
    if (token !== routeToken) return;
    const rows = media.MediaSet.map((m) => h("tr", {},
      h("td", {}, m.Name || "(unnamed)"),
      h("td", {}, h("code", {}, m.FileId)),
      h("td", { class: "num" }, m.ProbeError ? h("span", { class: "status-FAIL" }, m.ProbeError) : seconds(m.Duration)),
      h("td", { class: "num" }, m.Width ? `${m.Width}×${m.Height}` : ""),
      h("td", { class: "num" }, bytes(m.Size)),
      h("td", {}, when(m.CreateTime)),
      h("td", { class: "num" }, m.AnimatedGraphics),
      h("td", {}, h("a", { class: "button secondary", href: `#/media/${encodeURIComponent(m.FileId)}`, "aria-label": `Process ${m.Name || m.FileId}` }, "Process…"))));
    const table = media.MediaSet.length
      ? h("table", {}, h("caption", {}, `${media.MediaSet.length} media file(s), newest first`),
        h("thead", {}, h("tr", {}, ["Name", "FileId", "Duration", "Size (px)", "Bytes", "Created", "Images", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))
      : h("p", {}, "No media yet. ", h("a", { href: "#/upload" }, "Upload a video"), ".");
    const parts = [heading("Media files"), table];
    const chosen = media.MediaSet.find((m) => m.FileId === selected);
    if (selected && !chosen) parts.push(h("p", { class: "alert", role: "alert" }, `No media file ${selected}.`));
    if (chosen) parts.push(processForm(chosen, templates.AnimatedGraphicsTemplateSet, flows.ProcedureTemplateSet));
    render(...parts);
    if (chosen) document.getElementById("process-title").focus();
  }

  function processForm(media, templates, flows) {
    const error = alertBox("process-error");
    const entries = entriesEditor(templates, [], "Animated images");
    const flowSelect = h("select", { id: "process-flow" }, flows.map((f) => h("option", { value: f.Name }, f.Name)));
    const useFlow = h("input", { type: "radio", name: "process-kind", id: "kind-flow", value: "flow", checked: flows.length > 0, disabled: !flows.length });
    const useAdhoc = h("input", { type: "radio", name: "process-kind", id: "kind-adhoc", value: "adhoc", checked: !flows.length });
    const flowPart = h("div", { class: "field" }, h("label", { for: "process-flow" }, "Task flow"), flowSelect);
    const sync = () => {
      flowPart.hidden = !useFlow.checked;
      entries.hidden = useFlow.checked;
    };
    useFlow.addEventListener("change", sync);
    useAdhoc.addEventListener("change", sync);
    const form = h("form", { class: "card", id: "process-form", novalidate: true, "aria-labelledby": "process-title" },
      h("h2", { id: "process-title", tabindex: "-1" }, `Process ${media.Name || media.FileId}`),
      h("p", { class: "muted" }, "FileId ", h("code", {}, media.FileId), media.Duration ? ` · ${seconds(media.Duration)}` : ""),
      h("fieldset", {}, h("legend", {}, "What to run"),
        h("div", {}, useFlow, " ", h("label", { for: "kind-flow" }, flows.length ? "A task flow" : "A task flow (none yet)")),
        h("div", {}, useAdhoc, " ", h("label", { for: "kind-adhoc" }, "Ad-hoc animated images"))),
      flowPart, entries, error,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Start"), h("a", { href: "#/media" }, "Cancel")));
    sync();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = useFlow.checked
        ? { FileId: media.FileId, ProcedureName: flowSelect.value }
        : { FileId: media.FileId, MediaProcessTask: { AnimatedGraphicTaskSet: entries.values() } };
      try {
        const answer = await api("process", body);
        announce(`Started task ${answer.TaskId}`);
        location.hash = `#/tasks/${encodeURIComponent(answer.TaskId)}`;
      } catch (e) {
        showError(error, e);
      }
    });
    return form;
  }

  // --- upload --------------------------------------------------------------------------------

  async function uploadView(token) {
    const flows = await api("flows");
    if (token !== routeToken) return;
    const error = alertBox("upload-error");
    const file = h("input", { type: "file", id: "upload-file", accept: "video/*,.mp4,.mov,.mkv,.webm,.avi,.mpg,.ts", "aria-describedby": "upload-file-hint", required: true });
    const name = h("input", { type: "text", id: "upload-name", maxlength: 64, "aria-describedby": "upload-name-hint" });
    const flow = h("select", { id: "upload-flow", "aria-describedby": "upload-flow-hint" },
      h("option", { value: "" }, "None: only upload"),
      flows.ProcedureTemplateSet.map((f) => h("option", { value: f.Name }, f.Name)));
    const bar = h("progress", { id: "upload-progress", max: 100, value: 0, "aria-labelledby": "upload-progress-label" });
    const percent = h("span", { id: "upload-percent" }, "");
    const result = h("div", { id: "upload-result", "aria-live": "polite" });
    const button = h("button", { type: "submit", id: "upload-button" }, "Upload");
    const form = h("form", { class: "card", id: "upload-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "upload-file" }, "Video file"), file,
        h("span", { class: "hint", id: "upload-file-hint" }, "Streamed to the server; the page shows the progress.")),
      h("div", { class: "field" }, h("label", { for: "upload-name" }, "Media name (optional)"), name,
        h("span", { class: "hint", id: "upload-name-hint" }, "Up to 64 characters; default: the file's name.")),
      h("div", { class: "field" }, h("label", { for: "upload-flow" }, "Process during upload"), flow,
        h("span", { class: "hint", id: "upload-flow-hint" }, "A task flow to run once the upload is committed.")),
      h("div", { class: "field upload-progress" },
        h("span", { class: "label", id: "upload-progress-label" }, "Upload progress"), bar, " ", percent),
      error,
      h("div", { class: "actions" }, button));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      error.textContent = "";
      result.replaceChildren();
      const chosen = file.files[0];
      if (!chosen) {
        error.textContent = "Choose a video file first.";
        file.setAttribute("aria-invalid", "true");
        file.focus();
        return;
      }
      file.removeAttribute("aria-invalid");
      const params = new URLSearchParams({ FileName: chosen.name });
      if (name.value) params.set("MediaName", name.value);
      if (flow.value) params.set("Procedure", flow.value);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `api/upload?${params}`);
      xhr.setRequestHeader("X-Animgraph-Console", "1");
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const value = Math.floor((e.loaded / e.total) * 100);
        bar.value = value;
        percent.textContent = `${value}% (${e.loaded.toLocaleString("en")} of ${e.total.toLocaleString("en")} bytes)`;
      });
      xhr.addEventListener("load", () => {
        button.disabled = false;
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status !== 200) {
          showError(error, new ApiError(data.Error?.Code || `HTTP${xhr.status}`, data.Error?.Message || xhr.statusText));
          if (data.Error?.Code === "AuthFailure.SessionRequired") showSignIn();
          return;
        }
        bar.value = 100;
        percent.textContent = "100% · committed";
        result.replaceChildren(h("div", { class: "notice", id: "upload-done" },
          h("p", {}, "Uploaded: FileId ", h("code", { id: "upload-file-id" }, data.FileId), ` (${bytes(data.Size)}).`),
          data.ProcedureTaskId
            ? h("p", {}, "Task flow started: ", h("a", { id: "upload-task-link", href: `#/tasks/${encodeURIComponent(data.ProcedureTaskId)}` }, data.ProcedureTaskId))
            : h("p", {}, h("a", { href: `#/media/${encodeURIComponent(data.FileId)}` }, "Process this file…"))));
        announce("Upload finished");
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        error.textContent = "The upload failed: the connection was lost.";
      });
      button.disabled = true;
      bar.value = 0;
      percent.textContent = "0%";
      announce("Uploading");
      xhr.send(chosen);
    });
    render(heading("Upload a video"), form, result);
  }

  // --- templates -----------------------------------------------------------------------------

  async function templatesView(token, editing) {
    const data = await loadTemplates();
    if (token !== routeToken) return;
    const notice = noticeBox("templates-notice");
    const cols = ["Definition", "Type", "Name", "Format", "Width", "Height", "Adaptive", "Fps", "Quality", "Loop", "Budget", "Actions"];
    const rows = data.AnimatedGraphicsTemplateSet.map((t) => h("tr", { dataset: { definition: t.Definition } },
      h("td", { class: "num" }, t.Definition), h("td", {}, t.Type), h("td", {}, t.Name),
      h("td", {}, t.Format), h("td", { class: "num" }, t.Width), h("td", { class: "num" }, t.Height),
      h("td", {}, t.ResolutionAdaptive), h("td", { class: "num" }, t.Fps), h("td", { class: "num" }, t.Quality),
      h("td", { class: "loop" }, loopLabel(t)),
      h("td", { class: "budget" }, t.MaxSize ? h("span", { title: sizeLabels[t.MaxSize]?.Text }, budgetShort(t)) : "-"),
      h("td", {}, t.Type === "Preset" ? h("span", { class: "muted" }, "read-only") : h("span", { class: "actions" },
        h("a", { class: "button secondary", href: `#/templates/${t.Definition}`, "aria-label": `Edit template ${t.Definition}` }, "Edit"),
        h("button", {
          type: "button", class: "danger", "aria-label": `Delete template ${t.Definition}`,
          onclick: async () => {
            if (!confirm(`Delete template ${t.Definition}?`)) return;
            try {
              await api("templates/delete", { Definition: t.Definition });
              announce(`Deleted template ${t.Definition}`);
              go("#/templates", `Deleted template ${t.Definition}.`);
            } catch (e) { showError(notice, e); notice.className = "alert"; }
          },
        }, "Delete")))));
    const table = h("table", { id: "templates-table" },
      h("caption", {}, "Presets (read-only) and custom templates"),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows));
    const current = editing === "new" ? null : data.AnimatedGraphicsTemplateSet.find((t) => String(t.Definition) === editing);
    const parts = [heading("Templates"), notice, table];
    if (editing && editing !== "new" && !current) parts.push(h("p", { class: "alert", role: "alert" }, `No template ${editing}.`));
    else if (current?.Type === "Preset") parts.push(h("p", { class: "alert", role: "alert" }, `Template ${editing} is a preset: presets cannot be changed.`));
    else parts.push(templateForm(data.Fields, current, editing === "new"));
    render(...parts);
    if (editing) document.getElementById("template-form-title")?.focus();
  }

  /** A template's loop fields in a few words: "PingPong ×3", "Forward ∞", "Seamless ∞, highlight 4 s". */
  function loopLabel(t) {
    const mode = t.LoopMode || "Forward";
    const plays = t.LoopCount ? `×${t.LoopCount}` : "∞";
    return `${mode} ${plays}${t.HighlightDuration ? `, highlight ${t.HighlightDuration} s` : ""}`;
  }

  function templateForm(fields, current, open) {
    const error = alertBox("template-error");
    const inputs = {};
    const controls = fields.map((f) => {
      const id = `tpl-${f.Field}`;
      const value = current && current[f.Field] !== undefined ? current[f.Field] : f.Default;
      let input;
      if (f.Kind === "choice") {
        input = h("select", { id, name: f.Field }, f.Choices.map((c) => h("option", { value: c, selected: c === value }, c)));
      } else if (f.Kind === "number") {
        // min/max tell assistive technology the range; the API (not the browser) refuses.
        input = h("input", { type: "number", id, name: f.Field, min: f.Min, max: f.Max, step: f.Step || "1", value: value ?? "" });
      } else if (f.Kind === "size") {
        // Bytes, a size with a unit or a preset name: the API parses it (and refuses a bad one).
        input = h("input", {
          type: "text", id, name: f.Field, list: `${id}-presets`, autocomplete: "off", spellcheck: "false",
          placeholder: "none", value: value ? sizeLabels[value]?.Input ?? value : "",
        });
      } else {
        input = h("input", { type: "text", id, name: f.Field, maxlength: f.MaxLength, value: value ?? "" });
      }
      if (f.Help) input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
      inputs[f.Field] = input;
      let extra = null;
      if (f.Kind === "size") {
        // The presets to pick from, and the saved value in words and bytes.
        extra = [
          h("datalist", { id: `${id}-presets` },
            f.Presets.map((p) => h("option", { value: p.Name, label: `${p.Text} · ${p.Source}` }))),
          current ? h("span", { class: "hint saved-size", id: `${id}-saved` },
            `Saved: ${value ? sizeLabels[value]?.Text ?? `${value} bytes` : "none"}`) : null,
        ];
        input.setAttribute("aria-describedby", `${current ? `${id}-saved ` : ""}${id}-hint ${id}-error`);
      }
      return h("div", { class: "field" },
        h("label", { for: id }, f.Label || (f.Field === "ResolutionAdaptive" ? "Resolution adaptive" : f.Field)),
        input,
        extra,
        f.Help ? h("span", { class: "hint", id: `${id}-hint` }, f.Help) : null,
        h("span", { class: "field-error", id: `${id}-error` }));
    });
    const title = current ? `Edit template ${current.Definition}` : "New custom template";
    const form = h("form", { class: "card", id: "template-form", novalidate: true, "aria-labelledby": "template-form-title" },
      h("h2", { id: "template-form-title", tabindex: "-1" }, title),
      h("div", { class: "grid" }, controls),
      error,
      h("div", { class: "actions" },
        h("button", { type: "submit" }, current ? "Save changes" : "Create template"),
        current || open ? h("a", { href: "#/templates" }, "Cancel") : null));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      for (const [name, input] of Object.entries(inputs)) {
        input.removeAttribute("aria-invalid");
        document.getElementById(`tpl-${name}-error`).textContent = "";
      }
      const body = current ? { Definition: current.Definition } : {};
      for (const f of fields) {
        const raw = inputs[f.Field].value;
        if (f.Kind === "number") {
          if (raw.trim() === "") continue;            // omitted: the API's default (or "required")
          body[f.Field] = Number(raw);
        } else if (f.Kind === "size") {
          body[f.Field] = raw.trim() || 0;            // empty: no budget (clears a saved one)
        } else {
          body[f.Field] = raw;
        }
      }
      try {
        const saved = await api(current ? "templates/modify" : "templates", body);
        const message = `${current ? "Saved" : "Created"} template ${saved.Definition}.`;
        announce(message);
        go("#/templates", message);
      } catch (e) {
        showError(error, e);
        const field = e.code?.startsWith("InvalidParameterValue.") ? e.code.split(".")[1] : "";
        // Width and Height are both refused as Resolution (the cloud API's code); the message
        // names the one at fault.
        const sized = e.apiMessage?.startsWith("Height") ? inputs.Height : inputs.Width;
        const input =
          inputs[field] || (field === "Resolution" || field.startsWith("FormatWebp") ? sized : null);
        if (input) {
          input.setAttribute("aria-invalid", "true");
          document.getElementById(`${input.id}-error`).textContent = e.apiMessage;
          input.focus();
        }
      }
    });
    return form;
  }

  // --- task flows ----------------------------------------------------------------------------

  async function flowsView(token, editing) {
    const [flows, templates] = await Promise.all([api("flows"), loadTemplates()]);
    if (token !== routeToken) return;
    const notice = noticeBox("flows-notice");
    const set = flows.ProcedureTemplateSet;
    const describe = (f) => h("ul", {}, f.MediaProcessTask.AnimatedGraphicTaskSet.map((i) => h("li", {}, `Template ${i.Definition}: ${offsets(i)}`)));
    const table = set.length
      ? h("table", { id: "flows-table" }, h("caption", {}, "Task flows: named lists of animated images"),
        h("thead", {}, h("tr", {}, ["Name", "Comment", "Animated images", "Updated", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, set.map((f) => h("tr", { dataset: { flow: f.Name } },
          h("td", {}, h("strong", {}, f.Name)), h("td", {}, f.Comment), h("td", {}, describe(f)), h("td", {}, when(f.UpdateTime)),
          h("td", {}, h("span", { class: "actions" },
            h("a", { class: "button secondary", href: `#/flows/${encodeURIComponent(f.Name)}`, "aria-label": `Edit task flow ${f.Name}` }, "Edit"),
            h("button", {
              type: "button", class: "danger", "aria-label": `Delete task flow ${f.Name}`,
              onclick: async () => {
                if (!confirm(`Delete task flow ${f.Name}?`)) return;
                try {
                  await api("flows/delete", { Name: f.Name });
                  announce(`Deleted task flow ${f.Name}`);
                  go("#/flows", `Deleted task flow ${f.Name}.`);
                } catch (e) { showError(notice, e); notice.className = "alert"; }
              },
            }, "Delete")))))))
      : h("p", {}, "No task flows yet.");
    const current = editing && editing !== "new" ? set.find((f) => f.Name === editing) : null;
    const parts = [heading("Task flows"), notice, table];
    if (editing && editing !== "new" && !current) parts.push(h("p", { class: "alert", role: "alert" }, `No task flow ${editing}.`));
    else parts.push(flowForm(templates.AnimatedGraphicsTemplateSet, current, editing === "new"));
    render(...parts);
    if (editing) document.getElementById("flow-form-title")?.focus();
  }

  function flowForm(templates, current, open) {
    const error = alertBox("flow-error");
    const name = h("input", { type: "text", id: "flow-name", maxlength: 20, value: current?.Name || "", readonly: !!current, "aria-describedby": "flow-name-hint" });
    const comment = h("input", { type: "text", id: "flow-comment", maxlength: 256, value: current?.Comment || "" });
    const entries = entriesEditor(templates, current ? current.MediaProcessTask.AnimatedGraphicTaskSet : [], "Animated images");
    const form = h("form", { class: "card", id: "flow-form", novalidate: true, "aria-labelledby": "flow-form-title" },
      h("h2", { id: "flow-form-title", tabindex: "-1" }, current ? `Edit task flow ${current.Name}` : "New task flow"),
      h("div", { class: "field" }, h("label", { for: "flow-name" }, "Name"), name,
        h("span", { class: "hint", id: "flow-name-hint" }, current ? "The name of a task flow cannot change." : "1 to 20 letters, digits, '-' or '_'")),
      h("div", { class: "field" }, h("label", { for: "flow-comment" }, "Comment"), comment),
      entries, error,
      h("div", { class: "actions" },
        h("button", { type: "submit" }, current ? "Save task flow" : "Create task flow"),
        current || open ? h("a", { href: "#/flows" }, "Cancel") : null));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = { Name: name.value, Comment: comment.value, MediaProcessTask: { AnimatedGraphicTaskSet: entries.values() } };
      try {
        await api(current ? "flows/reset" : "flows", body);
        const message = `Saved task flow ${body.Name}.`;
        announce(message);
        go("#/flows", message);
      } catch (e) {
        showError(error, e);
      }
    });
    return form;
  }

  // --- tasks ---------------------------------------------------------------------------------

  function taskRows(tasks) {
    return tasks.map((t) => h("tr", { dataset: { task: t.TaskId } },
      h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(t.TaskId)}` }, h("code", {}, t.TaskId))),
      h("td", {}, t.FileName || h("code", {}, t.FileId)),
      h("td", { class: "task-status" }, statusText(t.Status)),
      h("td", {}, progressBar(t.Progress, `Progress of ${t.TaskId}`)),
      h("td", { class: "num" }, `${t.Done}/${t.Subtasks}`, t.Failed ? h("span", { class: "status-FAIL" }, ` (${t.Failed} failed)`) : ""),
      h("td", {}, when(t.CreateTime)),
      h("td", {}, when(t.FinishTime))));
  }

  async function tasksView(token) {
    const data = await api("tasks");
    if (token !== routeToken) return;
    const body = h("tbody", { id: "tasks-body" }, taskRows(data.TaskSet));
    const updated = h("p", { class: "muted", id: "tasks-updated" }, `Updated ${new Date().toLocaleTimeString()} · refreshes every ${POLL_MS / 1000} s`);
    render(heading("Tasks"), updated,
      h("table", { id: "tasks-table" }, h("caption", {}, "The newest 50 tasks; the list refreshes by itself"),
        h("thead", {}, h("tr", {}, ["TaskId", "Media", "Status", "Progress", "Images done", "Created", "Finished"].map((c) => h("th", { scope: "col" }, c)))),
        body));
    let last = JSON.stringify(data.TaskSet);
    poll(token, async () => {
      const fresh = await api("tasks");
      if (token !== routeToken) return false;
      const text = JSON.stringify(fresh.TaskSet);
      if (text !== last) {
        last = text;
        body.replaceChildren(...taskRows(fresh.TaskSet));
      }
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${POLL_MS / 1000} s`;
      return true;
    });
  }

  /** The output, playing: an <img> for the image formats (gif, webp, avif, apng), a muted
   *  looping <video> for the video ones (mp4, webm). Autoplay needs muted: set as a property
   *  too, since the attribute of a created element only sets defaultMuted. */
  function outputPlayer(out, label, videoFormats) {
    if (!videoFormats.includes(out.Container)) {
      return h("img", { src: out.Url, alt: label, width: out.Width, height: out.Height, class: "output" });
    }
    const video = h("video", {
      src: out.Url, class: "output", width: out.Width, height: out.Height, "aria-label": label,
      muted: true, loop: true, autoplay: true, playsinline: true,
    }, h("a", { href: out.Url }, `Download the ${out.Container.toUpperCase()}`));
    video.muted = true;
    return video;
  }

  /** How a size budget was met, as `animgraph run` says it: "fitted to 2 MB: Quality 41, 7 fps,
   *  320×180, 32 colours, 2 encodes". */
  function fitText(out, budget) {
    const used = [];
    if (out.Quality != null) used.push(`Quality ${out.Quality}`);
    if (out.Fps != null) used.push(`${out.Fps} fps`);
    used.push(`${out.Width}×${out.Height}`);
    if (out.Colors != null) used.push(`${out.Colors} colours`);
    used.push(`${out.Encodes} encode${out.Encodes === 1 ? "" : "s"}`);
    return `fitted to ${budget ? budget.Short : "its size budget"}: ${used.join(", ")}`;
  }

  function subtaskCard(result, index, budgets, videoFormats) {
    const sub = result.AnimatedGraphicTask;
    const input = sub.Input;
    const out = sub.Output;
    const title = `Image ${index + 1}: template ${input.Definition}, ${offsets(input)}`;
    const parts = [h("h3", {}, title), h("p", {}, "Status: ", statusText(sub.Status))];
    if (sub.Status === "PROCESSING") parts.push(h("p", {}, progressBar(sub.Progress, `Progress of image ${index + 1}`)));
    if (sub.Status === "SUCCESS" && out) {
      const alt = `Animated ${out.Container.toUpperCase()} ${index + 1}, ${out.Width}×${out.Height}, from ${seconds(out.StartTimeOffset)} to ${seconds(out.EndTimeOffset)} of the video`;
      parts.push(h("figure", {}, outputPlayer(out, alt, videoFormats)));
      parts.push(h("dl", { class: "facts" },
        h("dt", {}, "Format"), h("dd", {}, out.Container),
        h("dt", {}, "Size"), h("dd", { class: "out-size" }, bytes(out.Size)),
        h("dt", {}, "Dimensions"), h("dd", { class: "out-dimensions" }, `${out.Width}×${out.Height} px`),
        h("dt", {}, "Covers"), h("dd", {}, `${seconds(out.StartTimeOffset)} → ${seconds(out.EndTimeOffset)} of the source`),
        h("dt", {}, "Loop"), h("dd", { class: "out-loop" }, out.LoopMode || "Forward"),
        out.Encodes == null ? null : h("dt", {}, "Size budget"),
        out.Encodes == null ? null : h("dd", { class: "out-fit" }, fitText(out, budgets[input.Definition])),
        out.SeamScore == null ? null : h("dt", {}, "Seam score"),
        out.SeamScore == null ? null : h("dd", { class: "out-seam" }, out.SeamScore.toFixed(2)),
        h("dt", {}, "Bitrate"), h("dd", {}, `${out.Bitrate.toLocaleString("en")} bit/s`),
        h("dt", {}, "MD5"), h("dd", {}, h("code", { class: "out-md5" }, out.Md5))));
      parts.push(h("p", {}, h("a", { class: "button secondary download", href: out.Url, download: "" }, `Download ${out.Container.toUpperCase()}`)));
    }
    if (sub.Status === "FAIL") {
      parts.push(h("dl", { class: "facts alert sub-error" },
        h("dt", {}, "Error code"), h("dd", {}, h("code", { class: "err-code-ext" }, sub.ErrCodeExt)),
        h("dt", {}, "ErrCode"), h("dd", {}, String(sub.ErrCode)),
        h("dt", {}, "Message"), h("dd", { class: "err-message" }, sub.Message)));
    }
    return h("article", { class: "card subtask", dataset: { status: sub.Status }, "aria-label": title }, parts);
  }

  async function taskView(token, taskId) {
    const data = await api(`tasks/${encodeURIComponent(taskId)}`);
    if (token !== routeToken) return;
    const summary = h("dl", { class: "facts", id: "task-summary" });
    const results = h("div", { class: "results", id: "task-results" });
    const fill = (d) => {
      const s = d.Summary, p = d.Detail.ProcedureTask;
      summary.replaceChildren(
        h("dt", {}, "Status"), h("dd", { id: "task-status" }, statusText(s.Status)),
        h("dt", {}, "Progress"), h("dd", {}, progressBar(s.Progress, "Task progress")),
        h("dt", {}, "Media"), h("dd", {}, `${p.FileName || ""} `, h("code", {}, p.FileId)),
        h("dt", {}, "Images"), h("dd", {}, `${s.Succeeded} succeeded, ${s.Failed} failed, ${s.Subtasks} in all`),
        h("dt", {}, "Created"), h("dd", {}, when(d.Detail.CreateTime)),
        h("dt", {}, "Finished"), h("dd", {}, when(d.Detail.FinishTime) || "not yet"));
      results.replaceChildren(...p.MediaProcessResultSet.map((r, i) => subtaskCard(r, i, d.Budgets || {}, d.VideoFormats || [])));
    };
    fill(data);
    render(heading(`Task ${taskId}`), h("p", {}, h("a", { href: "#/tasks" }, "← All tasks")), summary,
      h("h2", {}, "Animated images"), results);
    let last = JSON.stringify(data);
    if (data.Summary.Status === "FINISH") return;
    poll(token, async () => {
      const fresh = await api(`tasks/${encodeURIComponent(taskId)}`);
      if (token !== routeToken) return false;
      const text = JSON.stringify(fresh);
      if (text !== last) {          // re-render only on change: images keep animating
        last = text;
        fill(fresh);
        if (fresh.Summary.Status === "FINISH") announce(`Task ${taskId} finished`);
      }
      return fresh.Summary.Status !== "FINISH";
    });
  }

  // --- routing -------------------------------------------------------------------------------

  async function route() {
    stopPolling();
    const token = ++routeToken;
    if (!session?.SignedIn) { showSignIn(); return; }
    const [name, arg] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.route === (name || "media")) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    try {
      switch (name || "media") {
        case "upload": await uploadView(token); break;
        case "templates": await templatesView(token, arg || null); break;
        case "flows": await flowsView(token, arg || null); break;
        case "tasks": await (arg ? taskView(token, arg) : tasksView(token)); break;
        default: await mediaView(token, arg || null);
      }
    } catch (e) {
      if (token !== routeToken || e.code === "AuthFailure.SessionRequired") return;
      const box = alertBox("view-error");
      showError(box, e);
      render(heading("Something went wrong"), box);
    }
  }

  window.addEventListener("hashchange", route);

  (async () => {
    try {
      const response = await fetch("api/session", { credentials: "same-origin", cache: "no-store" });
      setSignedIn(await response.json());
    } catch (_) {
      setSignedIn({ SignedIn: false });
    }
    route();
  })();
})();
