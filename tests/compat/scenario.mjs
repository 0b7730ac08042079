// The compatibility scenario with the Node.js SDK (tencentcloud-sdk-nodejs-vod): the steps of
// run() in scenario.py, from the plan it writes, configured as the SDK's users configure it.
// Usage: node scenario.mjs PLAN.json NODE_MODULES_DIR; prints the transcript as JSON.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";

const [planPath, modulesDir] = process.argv.slice(2);
const plan = JSON.parse(await readFile(planPath, "utf8"));
// The SDK is installed by the test in its own folder, not next to this script.
const tencentcloud = createRequire(`${modulesDir}/`)("tencentcloud-sdk-nodejs-vod");
const VodClient = tencentcloud.vod.v20180717.Client;

const client = new VodClient({
  credential: { secretId: plan.secretId, secretKey: plan.secretKey },
  region: "",
  profile: {
    signMethod: plan.signMethod,
    httpProfile: { endpoint: plan.host, protocol: plan.protocol, reqMethod: plan.reqMethod },
  },
});

const call = (action, params) => client[action](params);

async function refused(action, params) {
  try {
    await call(action, params);
  } catch (error) {
    if (!error.requestId) throw error; // a transport error, not the API's answer
    return error.code;
  }
  throw new Error(`${action} was accepted`);
}

async function untilFinish(taskId) {
  const deadline = Date.now() + plan.finishWaitS * 1000;
  for (;;) {
    const detail = await call("DescribeTaskDetail", { TaskId: taskId });
    if (detail.Status === "FINISH") return detail;
    if (Date.now() > deadline) throw new Error(`${taskId} is still ${detail.Status}`);
    await sleep(300);
  }
}

async function ownEvents(taskId, fileId) {
  const own = [];
  const deadline = Date.now() + plan.eventWaitS * 1000;
  while (!own.some((e) => e.EventType === "ProcedureStateChanged")) {
    if (Date.now() > deadline) throw new Error(`no ProcedureStateChanged for ${taskId}`);
    const { EventSet } = await call("PullEvents", {});
    for (const event of EventSet ?? []) {
      if (
        event.ProcedureStateChangeEvent?.TaskId === taskId ||
        event.FileUploadEvent?.FileId === fileId
      ) {
        own.push(event);
      }
    }
  }
  return own;
}

const template = await call("CreateAnimatedGraphicsTemplate", plan.template);
const tasks = structuredClone(plan.tasks);
for (const item of tasks.AnimatedGraphicTaskSet) item.Definition = template.Definition;
await call("CreateProcedureTemplate", { Name: plan.tag, MediaProcessTask: tasks });
const flows = await call("DescribeProcedureTemplates", { Names: [plan.tag] });
const applied = await call("ApplyUpload", {
  MediaType: plan.clip.split(".").pop(),
  MediaName: plan.tag,
});
// On https, fetch trusts the CA given in NODE_EXTRA_CA_CERTS, as the SDK does.
const put = await fetch(`${plan.protocol}${plan.host}${applied.MediaStoragePath}`, {
  method: "PUT",
  body: await readFile(plan.clip),
  headers: { Authorization: `Bearer ${applied.TempCertificate.Token}` },
});
if (put.status !== 200) throw new Error(`PUT answered ${put.status}: ${await put.text()}`);
const upload = await call("CommitUpload", { VodSessionKey: applied.VodSessionKey });
const task = await call("ProcessMedia", {
  FileId: upload.FileId,
  MediaProcessTask: tasks,
  SessionContext: plan.tag,
});
const detail = await untilFinish(task.TaskId);
const events = await ownEvents(task.TaskId, upload.FileId);
const confirmed = await call("ConfirmEvents", { EventHandles: events.map((e) => e.EventHandle) });
const code = await refused(plan.refused.action, plan.refused.params);
console.log(
  JSON.stringify({
    template,
    flows,
    upload,
    taskId: task.TaskId,
    detail,
    events,
    confirmed,
    refused: code,
  }),
);
