/* Virtual gamepads on Windows through the ViGEmBus driver
 * (https://github.com/nefarius/ViGEmBus): one virtual Xbox 360 pad, or
 * DualShock 4 where the client's pad is one, per client pad, plugged in and
 * out as the client's pads come and go. Games see a real USB pad (XInput,
 * DirectInput, joy.cpl).
 *
 * This file is only the Win32 side: find the bus's device interface
 * (SetupDi*), open it, and hand it the request buffers that
 * input/gamepad_map.c builds (and tests on Linux), which also decides
 * which pad to plug, unplug or update. Rumble comes back as notifications:
 * one overlapped request per pad stays pending in the driver until a game
 * changes the motors; pvs_vigem_ops.rumble picks up what completed without
 * waiting.
 *
 * The bus's handle is opened overlapped, as ViGEmBus's own client does, so
 * every request, even the ones waited for, carries an OVERLAPPED. */
#include "input/injector.h"

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <setupapi.h>
#include <winioctl.h>

#include "common/error.h"
#include "common/log.h"
#include "input/gamepad_map.h"

/* The bus's device interface: {96E42B22-F5E9-42F8-B043-ED0F932F014F}. */
static const GUID vigem_bus_interface = {
    0x96e42b22, 0xf5e9, 0x42f8, {0xb0, 0x43, 0xed, 0x0f, 0x93, 0x2f, 0x01, 0x4f},
};

#define VIGEM_RELEASES "https://github.com/nefarius/ViGEmBus/releases"

/* gamepad_map.h spells the codes out so they are tested on Linux; here
 * they meet the SDK's macro. */
#define BUS_CTL(function, access) \
    CTL_CODE(FILE_DEVICE_BUS_EXTENDER, function, METHOD_BUFFERED, access)
_Static_assert(PVS_VIGEM_IOCTL_PLUGIN == BUS_CTL(0x801, FILE_WRITE_DATA) &&
               PVS_VIGEM_IOCTL_CHECK_VERSION == BUS_CTL(0x803, FILE_WRITE_DATA) &&
               PVS_VIGEM_IOCTL_XUSB_NOTIFICATION ==
                   BUS_CTL(0xa01, FILE_READ_DATA | FILE_WRITE_DATA) &&
               PVS_VIGEM_IOCTL_DS4_NOTIFICATION == BUS_CTL(0xa04, FILE_WRITE_DATA),
               "IOCTL codes match the SDK's CTL_CODE");

/* Plugging in returns at once; the pad is ready for reports once Windows
 * has started its driver stack (tens of milliseconds, more on the first
 * pad ever). Nothing else should take long. */
#define READY_TIMEOUT_MS 3000
#define REQUEST_TIMEOUT_MS 500

/* The rumble notification pending for one client pad. */
struct pad_io {
    OVERLAPPED ov;
    HANDLE event;
    struct pvs_vigem_request note;   /* in and out: the driver fills it */
    bool pending;
};

struct vigem_state {
    HANDLE bus;
    HANDLE done;                     /* the event of waited-for requests */
    DWORD last_error;                /* of the last request that failed */
    struct pvs_pad_slots slots;
    struct pad_io io[PVS_INPUT_MAX_PADS];
    bool notify_failed_logged;
};

/* ---- requests ---------------------------------------------------------------- */

/* Sends one request and waits for it, at most timeout_ms. Returns 0,
 * PVS_ETIMEDOUT (cancelled) or PVS_EIO (s->last_error says why). */
static int request(struct vigem_state *s, const struct pvs_vigem_request *r, DWORD timeout_ms)
{
    OVERLAPPED ov = {0};
    ov.hEvent = s->done;
    ResetEvent(s->done);
    DWORD n = 0;
    BOOL ok = DeviceIoControl(s->bus, r->ioctl, (void *)r->buf, r->len, NULL, 0, &n, &ov);
    if (!ok && GetLastError() != ERROR_IO_PENDING) {
        s->last_error = GetLastError();
        return PVS_EIO;
    }
    if (!ok && WaitForSingleObject(s->done, timeout_ms) != WAIT_OBJECT_0) {
        /* The request must be over before ov goes out of scope. */
        CancelIoEx(s->bus, &ov);
        GetOverlappedResult(s->bus, &ov, &n, TRUE);
        s->last_error = ERROR_TIMEOUT;
        return PVS_ETIMEDOUT;
    }
    if (!GetOverlappedResult(s->bus, &ov, &n, TRUE)) {
        s->last_error = GetLastError();
        return PVS_EIO;
    }
    return 0;
}

/* Leaves a rumble notification pending in the driver for pad `index`. */
static void start_notification(struct vigem_state *s, int index)
{
    struct pad_io *io = &s->io[index];
    const struct pvs_pad_slot *sl = &s->slots.slot[index];
    pvs_vigem_notification(&io->note, sl->serial, sl->kind);
    memset(&io->ov, 0, sizeof(io->ov));
    io->ov.hEvent = io->event;
    DWORD n = 0;
    if (DeviceIoControl(s->bus, io->note.ioctl, io->note.buf, io->note.len, io->note.buf,
                        io->note.len, &n, &io->ov) ||
        GetLastError() == ERROR_IO_PENDING) {
        io->pending = true;
        return;
    }
    io->pending = false;
    if (!s->notify_failed_logged) {
        s->notify_failed_logged = true;
        PVS_LOG_W("gamepad %d: ViGEmBus refused the rumble request (error %lu): "
                  "rumble is not passed on", index, (unsigned long)GetLastError());
    }
}

static void stop_notification(struct vigem_state *s, int index)
{
    struct pad_io *io = &s->io[index];
    if (!io->pending)
        return;
    DWORD n;
    CancelIoEx(s->bus, &io->ov);
    GetOverlappedResult(s->bus, &io->ov, &n, TRUE); /* the buffer is ours again */
    io->pending = false;
}

/* ---- the bus operations pvs_pad_slots_update drives ------------------------ */

static int bus_unplug(void *bus, int index, uint32_t serial)
{
    struct vigem_state *s = bus;
    stop_notification(s, index);
    struct pvs_vigem_request r;
    pvs_vigem_unplug(&r, serial);
    int rc = request(s, &r, REQUEST_TIMEOUT_MS);
    if (rc)
        PVS_LOG_W("gamepad %d: ViGEmBus did not unplug pad %lu (error %lu)", index,
                  (unsigned long)serial, (unsigned long)s->last_error);
    else
        PVS_LOG_I("gamepad %d disconnected", index);
    return rc;
}

static int bus_plug(void *bus, int index, uint32_t serial, uint8_t kind)
{
    struct vigem_state *s = bus;
    struct pvs_vigem_request r;
    pvs_vigem_plugin(&r, serial, kind);
    int rc = request(s, &r, REQUEST_TIMEOUT_MS);
    if (rc) {
        /* Mostly: another program has this serial number. */
        PVS_LOG_D("gamepad %d: ViGEmBus refused serial %lu (error %lu)", index,
                  (unsigned long)serial, (unsigned long)s->last_error);
        return rc;
    }
    pvs_vigem_wait_ready(&r, serial);
    rc = request(s, &r, READY_TIMEOUT_MS);
    /* Drivers before 1.17 do not know this request (invalid parameter);
     * their plug-in itself returned once the pad was ready. */
    if (rc == PVS_EIO && s->last_error == ERROR_INVALID_PARAMETER)
        rc = 0;
    if (rc) {
        PVS_LOG_W("gamepad %d: the virtual pad did not come up (error %lu)", index,
                  (unsigned long)s->last_error);
        pvs_vigem_unplug(&r, serial);
        request(s, &r, REQUEST_TIMEOUT_MS);
        return rc;
    }
    PVS_LOG_I("gamepad %d connected (virtual %s, ViGEmBus serial %lu)", index,
              kind == PVS_PAD_KIND_DS4 ? "DualShock 4" : "Xbox 360 pad",
              (unsigned long)serial);
    return 0;
}

static int bus_submit(void *bus, int index, uint32_t serial, const struct pvs_gamepad *p)
{
    struct vigem_state *s = bus;
    struct pvs_vigem_request r;
    pvs_vigem_submit(&r, serial, p);
    int rc = request(s, &r, REQUEST_TIMEOUT_MS);
    /* The slot is recorded only after plug returns, so the first
     * notification goes out with the first report. */
    if (rc == 0 && !s->io[index].pending)
        start_notification(s, index);
    return rc;
}

static const struct pvs_pad_bus_ops bus_ops = {
    .plug = bus_plug,
    .unplug = bus_unplug,
    .submit = bus_submit,
};

/* ---- opening the bus ---------------------------------------------------------- */

/* Opens device interface `index` of the bus and checks that it speaks our
 * version. Returns the handle, or INVALID_HANDLE_VALUE with *why set. */
static HANDLE open_interface(HDEVINFO set, SP_DEVICE_INTERFACE_DATA *ifd, char *why,
                             size_t why_size)
{
    DWORD size = 0;
    SetupDiGetDeviceInterfaceDetailW(set, ifd, NULL, 0, &size, NULL);
    SP_DEVICE_INTERFACE_DETAIL_DATA_W *detail = size ? malloc(size) : NULL;
    if (!detail) {
        snprintf(why, why_size, "ViGEmBus's device path cannot be read (error %lu)",
                 (unsigned long)GetLastError());
        return INVALID_HANDLE_VALUE;
    }
    detail->cbSize = sizeof(*detail);
    HANDLE h = INVALID_HANDLE_VALUE;
    if (SetupDiGetDeviceInterfaceDetailW(set, ifd, detail, size, &size, NULL))
        h = CreateFileW(detail->DevicePath, GENERIC_READ | GENERIC_WRITE,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                        FILE_ATTRIBUTE_NORMAL | FILE_FLAG_NO_BUFFERING |
                            FILE_FLAG_WRITE_THROUGH | FILE_FLAG_OVERLAPPED,
                        NULL);
    if (h == INVALID_HANDLE_VALUE)
        snprintf(why, why_size, "ViGEmBus is installed but cannot be opened (error "
                 "%lu): restart Windows after installing it", (unsigned long)GetLastError());
    free(detail);
    return h;
}

static bool version_ok(struct vigem_state *s)
{
    struct pvs_vigem_request r;
    pvs_vigem_check_version(&r);
    return request(s, &r, REQUEST_TIMEOUT_MS) == 0;
}

/* Finds the first bus that opens and speaks our version into s->bus. */
static int open_bus(struct vigem_state *s, char *why, size_t why_size)
{
    snprintf(why, why_size, "the ViGEmBus driver is not installed (install it from "
             VIGEM_RELEASES ", then start pvstream-server again); keyboard and mouse "
             "work without it");
    HDEVINFO set = SetupDiGetClassDevsW(&vigem_bus_interface, NULL, NULL,
                                        DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
    if (set == INVALID_HANDLE_VALUE)
        return PVS_ENODEV;
    SP_DEVICE_INTERFACE_DATA ifd = {.cbSize = sizeof(ifd)};
    for (DWORD i = 0; SetupDiEnumDeviceInterfaces(set, NULL, &vigem_bus_interface, i, &ifd);
         i++) {
        s->bus = open_interface(set, &ifd, why, why_size);
        if (s->bus == INVALID_HANDLE_VALUE)
            continue;
        if (version_ok(s))
            break;
        snprintf(why, why_size, "ViGEmBus speaks another interface version than "
                 "pvstream (%d): install the current release from " VIGEM_RELEASES,
                 PVS_VIGEM_VERSION);
        CloseHandle(s->bus);
        s->bus = INVALID_HANDLE_VALUE;
    }
    SetupDiDestroyDeviceInfoList(set);
    return s->bus == INVALID_HANDLE_VALUE ? PVS_ENODEV : 0;
}

static void vigem_close(void *state)
{
    struct vigem_state *s = state;
    if (!s)
        return;
    if (s->bus != INVALID_HANDLE_VALUE) {
        pvs_pad_slots_unplug_all(&s->slots, &bus_ops, s);
        CloseHandle(s->bus);
    }
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        if (s->io[i].event)
            CloseHandle(s->io[i].event);
    if (s->done)
        CloseHandle(s->done);
    free(s);
}

static int vigem_open(void **state, char *why, size_t why_size)
{
    struct vigem_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return PVS_ENOMEM;
    }
    s->bus = INVALID_HANDLE_VALUE;
    s->done = CreateEventW(NULL, TRUE, FALSE, NULL);
    bool events = s->done != NULL;
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++) {
        s->io[i].event = CreateEventW(NULL, TRUE, FALSE, NULL);
        events = events && s->io[i].event;
    }
    if (!events) {
        snprintf(why, why_size, "cannot create an event (error %lu)",
                 (unsigned long)GetLastError());
        vigem_close(s);
        return PVS_EIO;
    }
    int rc = open_bus(s, why, why_size);
    if (rc) {
        vigem_close(s);
        return rc;
    }
    *state = s;
    return 0;
}

/* ---- the backend ------------------------------------------------------------ */

static int vigem_update(void *state, const struct pvs_gamepad *pad)
{
    struct vigem_state *s = state;
    return pvs_pad_slots_update(&s->slots, &bus_ops, s, pad);
}

/* Looks at each pad's pending notification without waiting; one that
 * completed is read and sent out again. */
static int vigem_rumble(void *state, struct pvs_pad_rumble *out)
{
    struct vigem_state *s = state;
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++) {
        struct pad_io *io = &s->io[i];
        const struct pvs_pad_slot *sl = &s->slots.slot[i];
        DWORD n = 0;
        if (!io->pending)
            continue;
        if (!GetOverlappedResult(s->bus, &io->ov, &n, FALSE)) {
            if (GetLastError() == ERROR_IO_INCOMPLETE)
                continue;
            io->pending = false; /* cancelled or refused: the pad went */
            continue;
        }
        io->pending = false;
        uint8_t large, small;
        bool got = pvs_vigem_parse_notification(io->note.buf, n, sl->serial, sl->kind,
                                                &large, &small) == 0 &&
                   pvs_pad_slots_rumble(&s->slots, i, large, small, out);
        start_notification(s, i);
        if (got)
            return 1;
    }
    return 0;
}

const struct pvs_pad_ops pvs_vigem_ops = {
    .name = "ViGEmBus",
    .open = vigem_open,
    .close = vigem_close,
    .update = vigem_update,
    .rumble = vigem_rumble,
};

#endif /* _WIN32 */
