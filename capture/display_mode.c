/* The choice of a display mode (capture/display_mode.h). */
#include "capture/display_mode.h"

#include <stdint.h>
#include <stdio.h>

struct pvs_display_mode pvs_display_mode_request(int client_width, int client_height,
                                                 int client_hz, int size_width,
                                                 int size_height, int fps)
{
    struct pvs_display_mode m = { client_width, client_height, client_hz };
    if (m.width <= 0 || m.height <= 0)
        m.width = m.height = 0;
    if (m.hz < 0)
        m.hz = 0;
    if (size_width > 0 && size_height > 0) {
        m.width = size_width;
        m.height = size_height;
    }
    if (fps > 0)
        m.hz = fps;
    return m;
}

bool pvs_display_mode_is_empty(const struct pvs_display_mode *m)
{
    return !m || (m->width <= 0 && m->hz <= 0);
}

bool pvs_display_mode_equal(const struct pvs_display_mode *a, const struct pvs_display_mode *b)
{
    return a->width == b->width && a->height == b->height && a->hz == b->hz;
}

/* What a mode is worth for the request, as keys compared in order (higher
 * wins): the rule of display_mode.h, steps 1 to 5. */
struct score {
    int64_t key[5];
};

static struct score score_of(const struct pvs_display_mode *m, const struct pvs_display_mode *w)
{
    struct score s;
    int64_t area = (int64_t)m->width * m->height, want = (int64_t)w->width * w->height;
    bool fits = m->width <= w->width && m->height <= w->height;
    s.key[0] = m->width == w->width && m->height == w->height;
    s.key[1] = (int64_t)m->width * w->height == (int64_t)w->width * m->height;
    s.key[2] = fits;
    s.key[3] = fits ? area : -(area > want ? area - want : want - area);
    /* Refresh: exact (3), above (2, the nearest first), below (1). */
    int64_t d = (int64_t)m->hz - w->hz;
    s.key[4] = d == 0 ? 3 * 100000 : d > 0 ? 2 * 100000 - d : 100000 + d;
    return s;
}

static bool better(const struct score *a, const struct score *b)
{
    for (int i = 0; i < 5; i++)
        if (a->key[i] != b->key[i])
            return a->key[i] > b->key[i];
    return false;
}

int pvs_display_mode_choose(const struct pvs_display_mode *modes, int n,
                            const struct pvs_display_mode *want,
                            const struct pvs_display_mode *current)
{
    if (!modes || n <= 0)
        return -1;
    struct pvs_display_mode w = want ? *want : (struct pvs_display_mode){ 0, 0, 0 };
    if (w.width <= 0 || w.height <= 0) {
        w.width = current ? current->width : 0;
        w.height = current ? current->height : 0;
    }
    if (w.hz <= 0)
        w.hz = current && current->hz > 0 ? current->hz : 60;
    bool any_size = w.width <= 0 || w.height <= 0;
    int best = -1;
    struct score best_score = { { 0 } };
    for (int i = 0; i < n; i++) {
        struct pvs_display_mode m = modes[i];
        if (any_size) { /* only the refresh counts */
            m.width = m.height = 0;
            w.width = w.height = 0;
        }
        struct score s = score_of(&m, &w);
        if (best < 0 || better(&s, &best_score)) {
            best = i;
            best_score = s;
        }
    }
    return best;
}

const char *pvs_display_mode_format(const struct pvs_display_mode *m, char *buf, size_t len)
{
    char size[32], hz[32];
    if (m->width > 0 && m->height > 0)
        snprintf(size, sizeof(size), "%dx%d", m->width, m->height);
    else
        snprintf(size, sizeof(size), "the current size");
    if (m->hz > 0)
        snprintf(hz, sizeof(hz), "%d Hz", m->hz);
    else
        snprintf(hz, sizeof(hz), "the current refresh");
    snprintf(buf, len, "%s at %s", size, hz);
    return buf;
}
