/* The per-pixel loop of the GIF encoder (workers/media/gifwriter.py), which Python and numpy
 * cannot vectorise: error-diffusion dithering and (lossy) LZW compression of one frame, fused
 * so that the colour error of a lossy match is spread to the neighbours like any dithering
 * error. See encode() below.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <sched.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CACHE_SLOTS (1 << 21)
#define MAX_CODES 4096

/* OkLab (Ottosson 2020) of an sRGB colour: nearest entries are found in this perceptual space,
 * as FFmpeg's paletteuse does since 6.0 (plain RGB distance measured 3-10 % worse FLIP). */
static float linear[256]; /* sRGB level -> linear light, filled by the module's init */

/* Cube root of x >= 0: a first guess from the float's bits (within 4 %), then two Newton
 * steps (within 1e-6 relative, far below what the coder's choices can tell apart); a third of
 * the time of libm's cbrtf, which was most of the time of oklab(). */
static inline float cube_root(float x) {
    if (x <= 0.0f) return 0.0f;
    union {
        float f;
        uint32_t i;
    } u = {x};
    u.i = u.i / 3 + 709921077u;
    float y = u.f;
    y = (2.0f * y + x / (y * y)) * (1.0f / 3.0f);
    y = (2.0f * y + x / (y * y)) * (1.0f / 3.0f);
    return y;
}

static void oklab(int r8, int g8, int b8, float lab[3]) {
    float c[3] = {linear[r8], linear[g8], linear[b8]};
    float l = cube_root(0.4122214708f * c[0] + 0.5363325363f * c[1] + 0.0514459929f * c[2]);
    float m = cube_root(0.2119034982f * c[0] + 0.6806995451f * c[1] + 0.1073969566f * c[2]);
    float s = cube_root(0.0883024619f * c[0] + 0.2817188376f * c[1] + 0.6299787005f * c[2]);
    lab[0] = 0.2104542553f * l + 0.7936177850f * m - 0.0040720468f * s;
    lab[1] = 1.9779984951f * l - 2.4285922050f * m + 0.4505937099f * s;
    lab[2] = 0.0259040371f * l + 0.7827717662f * m - 0.8086757660f * s;
}

static inline float lab_distance(const float *a, const float *b) {
    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

/* The palette's entries in order of OkLab lightness, for the nearest-entry search. */
typedef struct {
    int n;
    float light[256];  /* L of each entry, ascending */
    int16_t index[256]; /* the palette index of each */
} ByLight;

static void by_light_init(ByLight *s, const float *pal_lab, int n) {
    s->n = n;
    for (int i = 0; i < n; i++) { /* insertion sort: at most 256 entries, once a frame */
        float l = pal_lab[3 * i];
        int j = i;
        for (; j > 0 && s->light[j - 1] > l; j--) {
            s->light[j] = s->light[j - 1];
            s->index[j] = s->index[j - 1];
        }
        s->light[j] = l;
        s->index[j] = (int16_t)i;
    }
}

/* The entry nearest to a colour in OkLab (the lowest index among equals): entries are visited
 * outwards from the colour's lightness and the walk stops on a side once the lightness gap
 * alone is no nearer than the best so far. The same answer as trying every entry, at a fraction
 * of the cost (the coder asks for every new 7-bit cell it meets, most of all in its search). */
static inline int nearest(const float *pal_lab, const ByLight *s, int r, int g, int b) {
    float q[3];
    oklab(r, g, b, q);
    int lo = 0, hi = s->n; /* first entry with light >= q[0] */
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (s->light[mid] < q[0]) lo = mid + 1;
        else hi = mid;
    }
    int up = lo, down = lo - 1, best = -1;
    float best_d = 1e30f;
    while (up < s->n || down >= 0) {
        int side;
        if (up >= s->n) side = down;
        else if (down < 0) side = up;
        else side = (s->light[up] - q[0] <= q[0] - s->light[down]) ? up : down;
        float gap = s->light[side] - q[0];
        if (gap * gap > best_d) break; /* every entry left on either side is further */
        int i = s->index[side];
        const float *e = pal_lab + 3 * i;
        float dl = e[0] - q[0], da = e[1] - q[1], db = e[2] - q[2];
        float d = dl * dl + da * da + db * db;
        if (d < best_d || (d == best_d && i < best)) {
            best_d = d;
            best = i;
        }
        if (side == up) up++;
        else down--;
    }
    return best;
}

/* The dithering carries colours and errors in 1/16 of a level (FRAC fraction bits): errors
 * truncated to whole levels, as paletteuse does, drop most of a small error at each step.
 * Measured on the bench corpus: 1-3 % better FLIP for 1-4 % more bytes at the same settings. */
#define FRAC 4
#define TOP (255 << FRAC)

static inline int clamp_top(int v) { return v < 0 ? 0 : (v > TOP ? TOP : v); }

/* The whole level (0..255) nearest to a colour channel in 1/16 levels. */
static inline int level(int v) {
    v = (v + (1 << (FRAC - 1))) >> FRAC;
    return v > 255 ? 255 : v;
}

typedef struct {
    uint8_t *buf;
    Py_ssize_t len;
    uint32_t acc;
    int bits;
} BitWriter;

static inline void put_code(BitWriter *w, int code, int size) {
    w->acc |= (uint32_t)code << w->bits;
    w->bits += size;
    while (w->bits >= 8) {
        w->buf[w->len++] = (uint8_t)(w->acc & 0xff);
        w->acc >>= 8;
        w->bits -= 8;
    }
}

/* ---- dithering and lossy LZW in one pass ---------------------------------------------- */

typedef struct {
    BitWriter w;
    int16_t first_child[MAX_CODES], next_sibling[MAX_CODES];
    uint8_t value[MAX_CODES];
    int size, next_code;
} Lzw;

static void lzw_reset(Lzw *z) {
    for (int k = 0; k < MAX_CODES; k++) z->first_child[k] = -1;
    z->size = 9;
    z->next_code = 258;
}

/* Emit `cur` and add the string cur + `value` to the table (clearing it when full). */
static inline void lzw_emit(Lzw *z, int cur, int value) {
    put_code(&z->w, cur, z->size);
    int code = z->next_code++;
    z->value[code] = (uint8_t)value;
    z->first_child[code] = -1;
    z->next_sibling[code] = z->first_child[cur];
    z->first_child[cur] = (int16_t)code;
    if (z->next_code == MAX_CODES) {
        put_code(&z->w, 256, z->size);
        lzw_reset(z);
    } else if (z->next_code - 1 == (1 << z->size) && z->size < 12) {
        z->size++;
    }
}

/* One frame's coding state, shared by the search and the commit below. */
typedef struct {
    const uint8_t *hold, *p, *tolerance;
    uint8_t *under;       /* the screen: what the frame before left, updated pixel by pixel */
    int16_t *lut;
    const float *pal_lab;
    const ByLight *by_light;
    int transparent, threshold, carry, has_held, bw;
    Py_ssize_t at0;       /* index in the picture of the current row's first box pixel */
    const int *row;       /* the current row's wanted colours (1/16 levels), before the run */
    Lzw *z;
    int budget;           /* alternatives the search may still try for this code */
    int *path, *best_path; /* the path being tried; the best found, committed as it stands */
    int best_len;
    long best_cost;
} Coder;

/* What one pixel asks for, given its wanted colour (the pixel plus the error diffused to it). */
typedef struct {
    int kept, on_screen, want, shows, allowed, r, g, b;
    float q[3], base;
} Pixel;

static inline void pixel_eval(const Coder *k, int x, const int *w, Pixel *o) {
    Py_ssize_t at = k->at0 + x;
    o->kept = k->has_held && k->hold[at];
    o->on_screen = k->transparent >= 0 ? k->under[at] : -1;
    o->r = level(w[0]);
    o->g = level(w[1]);
    o->b = level(w[2]);
    if (o->kept) {
        o->want = k->transparent;
    } else {
        int key = ((o->r >> 1) << 14) | ((o->g >> 1) << 7) | (o->b >> 1);
        /* the cache holds entry + 1, 0 for not known yet: a zeroed cache costs no memory
         * until the cells the frames meet are written */
        int want = __atomic_load_n(k->lut + key, __ATOMIC_RELAXED) - 1;
        if (want < 0) {
            /* the entry nearest the cell's own colour (its odd corner), whichever pixel comes
             * first: the cache is the same whatever order frames are coded in */
            want = nearest(k->pal_lab, k->by_light, o->r | 1, o->g | 1, o->b | 1);
            __atomic_store_n(k->lut + key, (int16_t)(want + 1), __ATOMIC_RELAXED);
        }
        o->want = want;
    }
    o->shows = (o->want == k->transparent) ? o->on_screen : o->want;
    o->allowed = k->tolerance ? (k->threshold * k->tolerance[at]) >> 4 : k->threshold;
    o->base = -1;
}

/* The cost of writing entry `v` at a pixel: 0 for the exact choice (or what shows the same),
 * INT_MAX where no other entry may go, else the extra squared OkLab error x 1e5 over the exact
 * choice, at least 1 so that an exact match is preferred. */
static inline int pixel_cost(const Coder *k, Pixel *o, int v) {
    int looks = (v == k->transparent) ? o->on_screen : v;
    if (v == o->want || looks == o->shows) return 0;
    if (o->kept || o->allowed <= 0) return INT_MAX;
    if (o->base < 0) {
        oklab(o->r, o->g, o->b, o->q);
        o->base = lab_distance(k->pal_lab + 3 * o->shows, o->q);
    }
    float extra = (lab_distance(k->pal_lab + 3 * looks, o->q) - o->base) * 1e5f;
    return extra <= 0 ? 1 : (int)(extra + 0.5f);
}

/* The error a pixel passes on after `v` was written: the dithering error of the exact choice
 * plus `carry`/256 of what the lossy match changed. */
static inline void pixel_error(const Coder *k, const Pixel *o, const int *w, int v, int e[3]) {
    int looks = (v == k->transparent) ? o->on_screen : v;
    for (int c = 0; c < 3; c++) {
        int lossy = (k->p[3 * o->shows + c] - k->p[3 * looks + c]) << FRAC;
        e[c] = w[c] - (k->p[3 * o->shows + c] << FRAC) + lossy * k->carry / 256;
    }
}

/* The wanted colour of pixel x + 1 once pixel x passed on error e (Sierra-2-4A: 2/4 right);
 * `w` may be the row itself (the commit). */
static inline void right_of(const Coder *k, int x, const int *e, int *w) {
    for (int c = 0; c < 3; c++) w[c] = clamp_top(k->row[3 * (x + 1) + c] + e[c] * 2 / 4);
}

/* Depth-first search of the string table for the longest extension of `node` over pixels
 * x, x + 1, ... of the current row, each pixel within its tolerance, the error carried along
 * the row exactly as the commit will carry it; ties go to the lower total cost. The entry of
 * least cost is tried first at every step (so with no budget this is the greedy coder), other
 * entries within tolerance while the budget lasts. */
static void search(Coder *k, int node, int x, const int *w, int depth, long cost) {
    int extended = 0;
    if (x < k->bw) {
        Pixel o;
        pixel_eval(k, x, w, &o);
        int first = -1, first_cost = INT_MAX;
        for (int c = k->z->first_child[node]; c >= 0; c = k->z->next_sibling[c]) {
            int d = pixel_cost(k, &o, k->z->value[c]);
            if (d < first_cost) {
                first_cost = d;
                first = c;
                if (d == 0) break;
            }
        }
        if (first >= 0 && first_cost <= o.allowed) {
            extended = 1;
            for (int c = first; c >= 0;) {
                int d = c == first ? first_cost : pixel_cost(k, &o, k->z->value[c]);
                if (d <= o.allowed) {
                    int nw[3] = {0, 0, 0}, e[3];
                    if (x + 1 < k->bw) {
                        if (o.kept) {
                            for (int i = 0; i < 3; i++) nw[i] = k->row[3 * (x + 1) + i];
                        } else {
                            pixel_error(k, &o, w, k->z->value[c], e);
                            right_of(k, x, e, nw);
                        }
                    }
                    k->path[depth] = c;
                    search(k, c, x + 1, nw, depth + 1, cost + d);
                    if (k->best_len >= k->bw - (x - depth)) return; /* to the row's end */
                }
                /* next alternative: the siblings other than the first, while budget lasts */
                c = (c == first) ? k->z->first_child[node] : k->z->next_sibling[c];
                while (c == first) c = k->z->next_sibling[c];
                if (c < 0 || k->budget <= 0) break;
                k->budget--;
            }
        }
    }
    if (!extended && (depth > k->best_len || (depth == k->best_len && cost < k->best_cost))) {
        k->best_len = depth;
        k->best_cost = cost;
        memcpy(k->best_path, k->path, (size_t)depth * sizeof(int));
    }
}

/* Wait until the coder of the frame before has finished picture row `row` (its `done` count
 * passed it): rows are published with release order, so its screen writes are visible. A row
 * takes microseconds, so the wait spins (yielding) a little, then sleeps 50 us at a time: on a
 * machine with more coder threads than cores a spinning waiter would take the core from the
 * very coder it waits for. */
static void wait_for_row(const int32_t *done, int32_t row) {
    for (int spins = 0; __atomic_load_n(done, __ATOMIC_ACQUIRE) <= row; spins++) {
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
}

static void publish(int32_t *done, int32_t rows) {
    if (done != NULL) __atomic_store_n(done, rows, __ATOMIC_RELEASE);
}

/* encode(rgb, width, box, held, screen, palette, colours, cache, transparent, threshold,
 *        scale, carry, budget, after, done) -> bytes
 *
 * One frame's rectangle box = (x0, y0, x1, y1) of the RGB24 picture `rgb` (rows of `width`
 * pixels) dithered and LZW-coded in one pass. `screen` (a byte a pixel of the whole picture)
 * holds the indexes on screen and is updated in place. Where `held` (a byte a pixel of the whole
 * picture; empty for none) is set, the pixel keeps what `screen` shows: it is written
 * transparent, or as the same colour when that continues a match, and passes on no error.
 * Elsewhere Sierra-2-4A diffuses the error of the colour actually written: the coder may
 * extend its match with an entry that is at most `threshold` x `scale` / 16 (`scale`: a byte a
 * pixel of the whole picture, empty for 16 everywhere) further from the wanted colour (the
 * pixel plus the error diffused to it) than the nearest entry is, in squared OkLab distance
 * x 1e5, and the neighbours make up for the difference. Measuring the extra error rather than
 * the distance between the two entries (an entry on the far side of the wanted colour is as
 * good as the nearest) gave 3-6 % fewer bytes at 1-3 % lower FLIP on the bench corpus. The
 * neighbours get the dithering error of the exact choice plus `carry`/256 (0..256) of the
 * colour change a lossy match made: all of it keeps the average colour, less of it keeps large
 * tolerances from turning into grain. Each code is the longest match `search` finds within
 * the row, trying up to `budget` alternatives to the cheapest entry (0: greedy).
 * With `transparent` < 0 (a first frame) nothing is transparent.
 *
 * Frames can be coded two at a time, on two threads (the GIL is released): a frame reads the
 * screen only in the row it is coding, so it may code row y as soon as the frame before has
 * finished row y. `done` (an int32, or empty) counts the picture rows this call has finished,
 * then INT_MAX; `after` (empty for none) is the `done` of the frame before, waited on row by
 * row. */
static PyObject *encode(PyObject *self, PyObject *args) {
    Py_buffer rgb, held, screen, pal, cache, scale, after, done_buf;
    int width, x0, y0, x1, y1, colours, transparent, threshold, carry, budget;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*i(iiii)y*w*y*iw*iiy*iiy*w*", &rgb, &width, &x0, &y0, &x1,
                          &y1, &held, &screen, &pal, &colours, &cache, &transparent, &threshold,
                          &scale, &carry, &budget, &after, &done_buf))
        return NULL;
    int32_t *done = done_buf.len >= (Py_ssize_t)sizeof(int32_t) ? done_buf.buf : NULL;
    const int32_t *before =
        after.len >= (Py_ssize_t)sizeof(int32_t) ? (const int32_t *)after.buf : NULL;
    PyObject *result = NULL;
    int *rows = NULL, *paths = NULL;
    uint8_t *codes = NULL;
    Lzw *z = NULL;
    int bw = x1 - x0, bh = y1 - y0;
    Py_ssize_t box = (Py_ssize_t)bw * bh;
    Py_ssize_t height = width > 0 ? rgb.len / ((Py_ssize_t)width * 3) : 0;
    int has_held = held.len > 0;
    if (width <= 0 || x0 < 0 || y0 < 0 || bw <= 0 || bh <= 0 || x1 > width || y1 > height ||
        colours < 1 || colours > 255 || pal.len < 256 * 3 || transparent > 255 ||
        cache.len < (Py_ssize_t)(CACHE_SLOTS * sizeof(int16_t)) ||
        (has_held && held.len < height * width) ||
        (scale.len > 0 && scale.len < height * width) || carry < 0 || carry > 256 ||
        budget < 0 || screen.len < height * width) {
        PyErr_SetString(PyExc_ValueError, "encode: buffer sizes do not match");
        goto finish;
    }
    Py_ssize_t stride = (Py_ssize_t)(bw + 2) * 3;
    rows = PyMem_Calloc((size_t)stride * 2, sizeof(int));
    paths = PyMem_Malloc((size_t)(bw + 1) * 2 * sizeof(int));
    codes = PyMem_Malloc((size_t)(box * 2 + 64));
    z = PyMem_Malloc(sizeof(Lzw));
    if (rows == NULL || paths == NULL || codes == NULL || z == NULL) {
        PyErr_NoMemory();
        goto finish;
    }
    const uint8_t *src = rgb.buf;
    float pal_lab[256 * 3];
    for (int i = 0; i < 256; i++) {
        const uint8_t *e = (const uint8_t *)pal.buf + 3 * i;
        oklab(e[0], e[1], e[2], pal_lab + 3 * i);
    }
    ByLight by_light;
    by_light_init(&by_light, pal_lab, colours);
    Coder k = {
        .hold = held.buf, .under = screen.buf, .p = pal.buf,
        .tolerance = scale.len > 0 ? scale.buf : NULL, .lut = cache.buf, .pal_lab = pal_lab,
        .by_light = &by_light,
        .transparent = transparent, .threshold = threshold, .carry = carry,
        .has_held = has_held, .bw = bw, .z = z, .path = paths, .best_path = paths + bw + 1,
    };
    Py_BEGIN_ALLOW_THREADS
    z->w = (BitWriter){codes, 0, 0, 0};
    lzw_reset(z);
    put_code(&z->w, 256, z->size);
    int cur = -1;
    int *first = rows + 3;
    for (int i = 0; i < bw * 3; i++) first[i] = src[((Py_ssize_t)y0 * width + x0) * 3 + i] << FRAC;
    for (int y = 0; y < bh; y++) {
        int *row = rows + (y & 1) * stride + 3;
        int *next = rows + ((y + 1) & 1) * stride + 3;
        if (y + 1 < bh) {
            const uint8_t *below = src + ((Py_ssize_t)(y0 + y + 1) * width + x0) * 3;
            for (int i = 0; i < bw * 3; i++) next[i] = below[i] << FRAC;
        }
        if (before != NULL) wait_for_row(before, y0 + y);
        k.at0 = (Py_ssize_t)(y0 + y) * width + x0;
        k.row = row;
        /* run: pixels of the extension found still to commit; dead: the string can't go on */
        int x = 0, run = 0, dead = 0;
        while (x < bw) {
            if (cur >= 0 && run == 0 && !dead) {
                k.budget = budget;
                k.best_len = 0;
                k.best_cost = 0;
                search(&k, cur, x, row + 3 * x, 0, 0);
                run = k.best_len;
                dead = 1; /* after the run (or right here) the string ends */
            }
            Pixel o;
            pixel_eval(&k, x, row + 3 * x, &o);
            int written;
            if (run > 0) {
                cur = k.best_path[k.best_len - run];
                written = z->value[cur];
                run--;
            } else {
                if (cur >= 0) lzw_emit(z, cur, o.want);
                cur = o.want;
                written = o.want;
                dead = 0;
            }
            if (written != transparent) k.under[k.at0 + x] = (uint8_t)written;
            if (!o.kept) { /* a held pixel passes on no error */
                int e[3];
                pixel_error(&k, &o, row + 3 * x, written, e);
                if (x + 1 < bw) right_of(&k, x, e, row + 3 * (x + 1));
                for (int c = 0; c < 3 && y + 1 < bh; c++) { /* 1/4 below-left, 1/4 below */
                    if (x > 0) next[3 * (x - 1) + c] = clamp_top(next[3 * (x - 1) + c] + e[c] / 4);
                    next[3 * x + c] = clamp_top(next[3 * x + c] + e[c] / 4);
                }
            }
            x++;
        }
        publish(done, y0 + y + 1);
    }
    put_code(&z->w, cur, z->size);
    put_code(&z->w, 257, z->size);
    if (z->w.bits > 0) z->w.buf[z->w.len++] = (uint8_t)(z->w.acc & 0xff);
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)codes, z->w.len);
finish:
    publish(done, INT_MAX); /* also on an error: the next frame's coder must not wait for good */
    PyMem_Free(rows);
    PyMem_Free(paths);
    PyMem_Free(codes);
    PyMem_Free(z);
    PyBuffer_Release(&rgb);
    PyBuffer_Release(&held);
    PyBuffer_Release(&screen);
    PyBuffer_Release(&pal);
    PyBuffer_Release(&cache);
    PyBuffer_Release(&scale);
    PyBuffer_Release(&after);
    PyBuffer_Release(&done_buf);
    return result;
}

static PyMethodDef methods[] = {
    {"encode", encode, METH_VARARGS, "Dither and LZW-code one frame's rectangle (see above)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gifcore", "GIF dithering and lossy LZW of one frame.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gifcore(void) {
    for (int i = 0; i < 256; i++) {
        float c = i / 255.0f;
        linear[i] = c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
    }
    return PyModule_Create(&module);
}
