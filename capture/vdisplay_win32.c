/* pvs_display_system_ops for Windows (capture/vdisplay.h): the Win32 calls
 * only, every decision is in vdisplay.c.
 *
 * Modes: EnumDisplaySettingsW lists them, ChangeDisplaySettingsExW with
 * CDS_FULLSCREEN sets one for now (Windows restores the saved one when
 * asked with a NULL mode, or when this process exits).
 *
 * The virtual display driver is SudoVDA (docs/windows.md, "Virtual
 * display"). What is used of its control interface, as its public
 * sudovda-ioctl.h defines it: the device interface GUID
 * {e5bcc234-1e0c-418a-a0d4-ef8b7501414d}; METHOD_BUFFERED IOCTLs on
 * FILE_DEVICE_UNKNOWN, functions 0x800 add, 0x801 remove, 0x802 set the
 * render adapter (a LUID), 0x888 ping; the add parameters (width, height,
 * refresh as UINTs, a monitor GUID, a 14-byte name and a 14-byte serial)
 * and its answer (the adapter LUID and target id). Every IOCTL resets the
 * driver's watchdog, which removes its monitors when nobody has called for
 * a few seconds (3 by default): pvs_vdisplay_tick pings once a second. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <setupapi.h>
#include <winioctl.h>
#include <objbase.h>

#include <stdio.h>
#include <string.h>

#include "capture/vdisplay.h"
#include "common/error.h"

static const GUID sudovda_interface = {
    0xe5bcc234, 0x1e0c, 0x418a, { 0xa0, 0xd4, 0xef, 0x8b, 0x75, 0x01, 0x41, 0x4d }
};
#define SUDOVDA_ADD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define SUDOVDA_REMOVE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define SUDOVDA_SET_RENDER_ADAPTER \
    CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define SUDOVDA_PING CTL_CODE(FILE_DEVICE_UNKNOWN, 0x888, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct sudovda_add {
    UINT width, height, refresh;
    GUID monitor;
    CHAR name[14];
    CHAR serial[14];
};
struct sudovda_add_out {
    LUID adapter;
    UINT target;
};

/* The one driver handle and the monitor of this process (the server has
 * one display session). */
static HANDLE vdd = INVALID_HANDLE_VALUE;
static GUID monitor_guid;

static int win_list(void *ctx, struct pvs_gpu_adapter *out, int cap, char *why, size_t len)
{
    (void)ctx;
    return pvs_gpu_list(out, cap, why, len);
}

static void wide(const char *name, WCHAR *w, int cap)
{
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, w, cap) <= 0)
        w[0] = 0;
}

static struct pvs_display_mode mode_of(const DEVMODEW *dm)
{
    return (struct pvs_display_mode){ (int)dm->dmPelsWidth, (int)dm->dmPelsHeight,
                                      (int)dm->dmDisplayFrequency };
}

static int win_modes(void *ctx, const char *name, struct pvs_display_mode *out, int cap,
                     struct pvs_display_mode *current, char *why, size_t len)
{
    (void)ctx;
    WCHAR dev[64];
    wide(name, dev, 64);
    DEVMODEW dm = { .dmSize = sizeof(dm) };
    if (!EnumDisplaySettingsW(dev, ENUM_CURRENT_SETTINGS, &dm)) {
        snprintf(why, len, "EnumDisplaySettingsW failed (%lu)", (unsigned long)GetLastError());
        return PVS_EIO;
    }
    *current = mode_of(&dm);
    int n = 0;
    for (DWORD i = 0; n < cap && EnumDisplaySettingsW(dev, i, &dm); i++) {
        if (dm.dmBitsPerPel != 32)
            continue; /* the same modes again at 8 and 16 bits */
        out[n++] = mode_of(&dm);
    }
    return n;
}

static const char *disp_change_name(LONG rc)
{
    switch (rc) {
    case DISP_CHANGE_BADMODE: return "DISP_CHANGE_BADMODE: the output does not take it";
    case DISP_CHANGE_FAILED: return "DISP_CHANGE_FAILED: the driver refused it";
    case DISP_CHANGE_RESTART: return "DISP_CHANGE_RESTART: it needs a restart";
    case DISP_CHANGE_BADPARAM: return "DISP_CHANGE_BADPARAM";
    default: return "the change failed";
    }
}

static int win_set_mode(void *ctx, const char *name, const struct pvs_display_mode *m,
                        char *why, size_t len)
{
    (void)ctx;
    WCHAR dev[64];
    wide(name, dev, 64);
    LONG rc;
    if (!m) {
        rc = ChangeDisplaySettingsExW(dev, NULL, NULL, 0, NULL);
    } else {
        DEVMODEW dm = { .dmSize = sizeof(dm) };
        dm.dmPelsWidth = (DWORD)m->width;
        dm.dmPelsHeight = (DWORD)m->height;
        dm.dmDisplayFrequency = (DWORD)m->hz;
        dm.dmFields = DM_PELSWIDTH | DM_PELSHEIGHT | DM_DISPLAYFREQUENCY;
        rc = ChangeDisplaySettingsExW(dev, &dm, NULL, CDS_FULLSCREEN, NULL);
    }
    if (rc == DISP_CHANGE_SUCCESSFUL)
        return 0;
    snprintf(why, len, "%s (%ld)", disp_change_name(rc), (long)rc);
    return PVS_EIO;
}

static int win_vdd_open(void *ctx, char *why, size_t len)
{
    (void)ctx;
    HDEVINFO set = SetupDiGetClassDevsW(&sudovda_interface, NULL, NULL,
                                        DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
    if (set == INVALID_HANDLE_VALUE)
        return PVS_ENODEV;
    SP_DEVICE_INTERFACE_DATA itf = { .cbSize = sizeof(itf) };
    union {
        SP_DEVICE_INTERFACE_DETAIL_DATA_W d;
        char bytes[sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W) + 512 * sizeof(WCHAR)];
    } detail;
    detail.d.cbSize = sizeof(detail.d);
    int err = PVS_ENODEV;
    if (SetupDiEnumDeviceInterfaces(set, NULL, &sudovda_interface, 0, &itf) &&
        SetupDiGetDeviceInterfaceDetailW(set, &itf, &detail.d, sizeof(detail), NULL, NULL)) {
        vdd = CreateFileW(detail.d.DevicePath, GENERIC_READ | GENERIC_WRITE,
                          FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
        err = vdd == INVALID_HANDLE_VALUE ? PVS_EIO : 0;
        if (err)
            snprintf(why, len, "cannot open SudoVDA's device (error %lu)",
                     (unsigned long)GetLastError());
    }
    SetupDiDestroyDeviceInfoList(set);
    return err;
}

static BOOL vdd_ioctl(DWORD code, void *in, DWORD in_len, void *out, DWORD out_len)
{
    DWORD got = 0;
    return DeviceIoControl(vdd, code, in, in_len, out, out_len, &got, NULL);
}

static int win_vdd_add(void *ctx, const struct pvs_display_mode *m, uint64_t luid, char *why,
                       size_t len)
{
    (void)ctx;
    if (luid) { /* the monitor is rendered by the partitioned GPU */
        LUID l = { .LowPart = (DWORD)luid, .HighPart = (LONG)(luid >> 32) };
        if (!vdd_ioctl(SUDOVDA_SET_RENDER_ADAPTER, &l, sizeof(l), NULL, 0))
            snprintf(why, len, "(the render adapter was not taken: %lu) ",
                     (unsigned long)GetLastError());
    }
    struct sudovda_add a = { .width = (UINT)m->width, .height = (UINT)m->height,
                             .refresh = (UINT)m->hz };
    /* One monitor per server run; a fresh GUID so a crashed run's monitor
     * (persisted by some SudoVDA versions) is never taken over. */
    if (CoCreateGuid(&monitor_guid) != S_OK)
        return PVS_EIO;
    a.monitor = monitor_guid;
    snprintf(a.name, sizeof(a.name), "pvstream");
    snprintf(a.serial, sizeof(a.serial), "PVS%08lx", (unsigned long)GetCurrentProcessId());
    struct sudovda_add_out out;
    if (!vdd_ioctl(SUDOVDA_ADD, &a, sizeof(a), &out, sizeof(out))) {
        size_t used = strlen(why);
        snprintf(why + used, len - used, "IOCTL add failed (%lu)", (unsigned long)GetLastError());
        return PVS_EIO;
    }
    return 0;
}

static void win_vdd_remove(void *ctx)
{
    (void)ctx;
    GUID g = monitor_guid;
    vdd_ioctl(SUDOVDA_REMOVE, &g, sizeof(g), NULL, 0);
}

static void win_vdd_ping(void *ctx)
{
    (void)ctx;
    vdd_ioctl(SUDOVDA_PING, NULL, 0, NULL, 0);
}

static void win_vdd_close(void *ctx)
{
    (void)ctx;
    if (vdd != INVALID_HANDLE_VALUE)
        CloseHandle(vdd);
    vdd = INVALID_HANDLE_VALUE;
}

static int64_t win_now_ms(void *ctx)
{
    (void)ctx;
    return (int64_t)GetTickCount64();
}

static void win_sleep_ms(void *ctx, int ms)
{
    (void)ctx;
    Sleep((DWORD)ms);
}

static const struct pvs_display_ops win_ops = {
    win_list, win_modes, win_set_mode, win_vdd_open, win_vdd_add, win_vdd_remove,
    win_vdd_ping, win_vdd_close, win_now_ms, win_sleep_ms,
};

const struct pvs_display_ops *pvs_display_system_ops(void)
{
    return &win_ops;
}
