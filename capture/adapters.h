/* Graphics adapters and their outputs, and which of them a Windows server
 * captures and encodes on.
 *
 * In a GPU-PV guest the partitioned GPU appears beside Microsoft's Basic
 * Render Driver and the Hyper-V video adapter, and the desktop's output may
 * belong to an adapter that cannot encode. Capture and encode must run on
 * one D3D11 device for the picture to stay in video memory, so the choice of
 * output decides the adapter, and the adapter decides whether the encode is
 * zero-copy. The listing is Windows only (capture/dxgi_adapters.c, DXGI);
 * the choice and the wording are plain C, tested everywhere. */
#ifndef PVS_CAPTURE_ADAPTERS_H
#define PVS_CAPTURE_ADAPTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_GPU_MAX_ADAPTERS 8
#define PVS_GPU_MAX_OUTPUTS 8

struct pvs_gpu_output {
    char name[32];          /* "\\.\DISPLAY1" */
    int x, y;               /* top-left on the desktop; the primary is at 0,0 */
    int width, height;
    int rotation;           /* degrees: 0, 90, 180, 270 */
    bool attached;          /* part of the desktop */
};

struct pvs_gpu_adapter {
    char name[128];         /* the driver's description, UTF-8 */
    uint32_t vendor_id, device_id;
    uint64_t luid;          /* identifies the adapter for D3D11 and encoders */
    uint64_t dedicated_video_memory;
    bool software;          /* DXGI_ADAPTER_FLAG_SOFTWARE (Basic Render Driver, WARP) */
    int output_count;
    struct pvs_gpu_output outputs[PVS_GPU_MAX_OUTPUTS];
};

/* Lists the adapters, in DXGI's order, into out[0..cap). Returns how many,
 * or a negative PVS_E* code with the reason in `why` (PVS_ENOTSUP where
 * there is no DXGI: every system but Windows). */
int pvs_gpu_list(struct pvs_gpu_adapter *out, int cap, char *why, size_t why_len);

/* "NVIDIA", "AMD", "Intel", "Microsoft", ... or "vendor 0xNNNN" in buf. */
const char *pvs_gpu_vendor_name(uint32_t vendor_id, char *buf, size_t len);

/* The libavcodec encoder family that can run on this adapter ("nvenc",
 * "amf", "qsv"), or NULL when it has no hardware encoder pvstream uses. */
const char *pvs_gpu_encoder_family(const struct pvs_gpu_adapter *a);

struct pvs_gpu_choice {
    int adapter;            /* index into the list; -1: nothing to capture */
    int output;             /* index into that adapter's outputs */
    int encode_adapter;     /* where the encoder should run; -1: software */
    bool zero_copy;         /* capture and hardware encode on one adapter */
    char note[384];         /* what the user should know, or "" */
};

/* Picks the output to capture: `want` counts the attached outputs of all
 * adapters in list order (0, 1, ...; the note counts from 1, as --output
 * does), -1 asks for the default: the primary
 * output (at 0,0) of an adapter that can encode, else the primary output.
 * Returns 0, or PVS_ENOENT (want is past the last output) or PVS_ENODEV
 * (no attached output anywhere), with the reason in c->note. */
int pvs_gpu_choose(const struct pvs_gpu_adapter *list, int n, int want,
                   struct pvs_gpu_choice *c);

/* What a GPU-PV guest looks like from its adapters, for `doctor` and the
 * server's log. */
enum pvs_gpu_display {
    PVS_GPU_DISPLAY_OK,       /* an adapter that encodes shows the desktop */
    PVS_GPU_DISPLAY_PV,       /* a GPU that encodes shows nothing; the desktop is on
                                 an adapter that cannot encode (Hyper-V video, the
                                 Basic Display Adapter) or nowhere: GPU-PV */
    PVS_GPU_DISPLAY_NONE,     /* nothing attached, and no GPU that encodes */
    PVS_GPU_DISPLAY_SOFTWARE, /* a desktop, but no adapter encodes */
};

struct pvs_gpu_diagnosis {
    enum pvs_gpu_display state;
    int gpu;                  /* the adapter that encodes and shows nothing, or -1 */
    char found[256];          /* what was found, for people */
    char todo[256];           /* what to do, or "" */
};

/* Says whether this is the GPU-PV case, and what to do about it.
 * `have_virtual_display`: a virtual display driver answers (the advice is
 * then that pvstream adds a display while a client is connected). */
void pvs_gpu_diagnose(const struct pvs_gpu_adapter *list, int n, bool have_virtual_display,
                      struct pvs_gpu_diagnosis *d);

/* What to install when there is no virtual display driver: one line. */
#define PVS_GPU_INSTALL_VDD \
    "install the SudoVDA virtual display driver (its release installer, run as " \
    "administrator; docs/windows.md, \"Virtual display\"), then connect again"

#endif
