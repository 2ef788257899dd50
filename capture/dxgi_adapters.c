/* pvs_gpu_list for Windows (capture/adapters.h): the DXGI calls only, every
 * decision is in adapters.c. */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <dxgi.h>

#include <stdio.h>
#include <string.h>

#include "capture/adapters.h"
#include "common/error.h"

static void utf8(const WCHAR *w, char *out, size_t len)
{
    if (WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)len, NULL, NULL) <= 0)
        snprintf(out, len, "?");
    out[len - 1] = '\0';
}

static int rotation_degrees(DXGI_MODE_ROTATION r)
{
    switch (r) {
    case DXGI_MODE_ROTATION_ROTATE90: return 90;
    case DXGI_MODE_ROTATION_ROTATE180: return 180;
    case DXGI_MODE_ROTATION_ROTATE270: return 270;
    default: return 0;
    }
}

static void list_outputs(IDXGIAdapter1 *adapter, struct pvs_gpu_adapter *a)
{
    IDXGIOutput *output = NULL;
    for (UINT k = 0; a->output_count < PVS_GPU_MAX_OUTPUTS &&
                     IDXGIAdapter1_EnumOutputs(adapter, k, &output) == S_OK; k++) {
        DXGI_OUTPUT_DESC d;
        if (SUCCEEDED(IDXGIOutput_GetDesc(output, &d))) {
            struct pvs_gpu_output *o = &a->outputs[a->output_count++];
            utf8(d.DeviceName, o->name, sizeof(o->name));
            o->x = (int)d.DesktopCoordinates.left;
            o->y = (int)d.DesktopCoordinates.top;
            o->width = (int)(d.DesktopCoordinates.right - d.DesktopCoordinates.left);
            o->height = (int)(d.DesktopCoordinates.bottom - d.DesktopCoordinates.top);
            o->rotation = rotation_degrees(d.Rotation);
            o->attached = d.AttachedToDesktop != FALSE;
        }
        IDXGIOutput_Release(output);
        output = NULL;
    }
}

int pvs_gpu_list(struct pvs_gpu_adapter *out, int cap, char *why, size_t why_len)
{
    if (!out || cap <= 0)
        return PVS_EINVAL;
    IDXGIFactory1 *factory = NULL;
    HRESULT hr = CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&factory);
    if (FAILED(hr)) {
        snprintf(why, why_len, "CreateDXGIFactory1 failed (0x%08lx%s)", (unsigned long)hr,
                 hr == DXGI_ERROR_UNSUPPORTED ? ": no display driver here; under Wine, no X display"
                                              : "");
        return PVS_EIO;
    }
    int n = 0;
    IDXGIAdapter1 *adapter = NULL;
    for (UINT i = 0; n < cap && IDXGIFactory1_EnumAdapters1(factory, i, &adapter) == S_OK; i++) {
        DXGI_ADAPTER_DESC1 d;
        if (SUCCEEDED(IDXGIAdapter1_GetDesc1(adapter, &d))) {
            struct pvs_gpu_adapter *a = &out[n++];
            memset(a, 0, sizeof(*a));
            utf8(d.Description, a->name, sizeof(a->name));
            a->vendor_id = d.VendorId;
            a->device_id = d.DeviceId;
            a->luid = ((uint64_t)(uint32_t)d.AdapterLuid.HighPart << 32) | d.AdapterLuid.LowPart;
            a->dedicated_video_memory = d.DedicatedVideoMemory;
            a->software = (d.Flags & DXGI_ADAPTER_FLAG_SOFTWARE) != 0;
            list_outputs(adapter, a);
        }
        IDXGIAdapter1_Release(adapter);
        adapter = NULL;
    }
    IDXGIFactory1_Release(factory);
    if (n == 0) {
        snprintf(why, why_len, "DXGI lists no adapter");
        return PVS_ENODEV;
    }
    return n;
}
