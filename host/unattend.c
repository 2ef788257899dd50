/* The answer file and the guest's setup files of `vm create` (unattend.h). */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/hyperv_probe.h"
#include "host/text.h"
#include "host/unattend.h"
#include "host/xml.h"

/* Decodes one UTF-8 character at *p (overlongs, surrogates and values
 * past U+10FFFF refused); returns it and advances, or -1. */
static long utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned long c;
    int n;
    if (s[0] < 0x80) {
        c = s[0];
        n = 0;
    } else if ((s[0] & 0xe0) == 0xc0) {
        c = s[0] & 0x1f;
        n = 1;
    } else if ((s[0] & 0xf0) == 0xe0) {
        c = s[0] & 0x0f;
        n = 2;
    } else if ((s[0] & 0xf8) == 0xf0) {
        c = s[0] & 0x07;
        n = 3;
    } else {
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const unsigned long min[] = { 0, 0x80, 0x800, 0x10000 };
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *p = s + n + 1;
    return (long)c;
}

/* Appends `s` as UTF-16LE to buf (room for cap units); returns the units
 * written, or -1 (bad UTF-8, a control character, too long). */
static int to_utf16le(const char *s, unsigned char *buf, int cap)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        long c = utf8_next(&p);
        if (c < 0x20 || c == 0x7f)
            return -1;
        unsigned units[2];
        int k = 1;
        if (c >= 0x10000) {
            units[0] = 0xd800 + (unsigned)((c - 0x10000) >> 10);
            units[1] = 0xdc00 + (unsigned)((c - 0x10000) & 0x3ff);
            k = 2;
        } else {
            units[0] = (unsigned)c;
        }
        if (n + k > cap)
            return -1;
        for (int i = 0; i < k; i++) {
            buf[2 * n] = (unsigned char)(units[i] & 0xff);
            buf[2 * n + 1] = (unsigned char)(units[i] >> 8);
            n++;
        }
    }
    return n;
}

int pvs_unattend_check_password(const char *password, char *why, size_t why_len)
{
    unsigned char buf[2 * PVS_UNATTEND_PASSWORD_MAX];
    if (!password || !*password) {
        pvs_text_error(why, why_len, "the password is empty: the account would have none");
        return PVS_EINVAL;
    }
    if (to_utf16le(password, buf, PVS_UNATTEND_PASSWORD_MAX) < 0) {
        pvs_text_error(why, why_len, "the password is not UTF-8 text of at most %d characters "
                       "without control characters", PVS_UNATTEND_PASSWORD_MAX);
        return PVS_EINVAL;
    }
    return 0;
}

int pvs_unattend_hide_password(const char *password, const char *element, char **out)
{
    *out = NULL;
    enum { CAP = PVS_UNATTEND_PASSWORD_MAX + 32 };
    unsigned char buf[2 * CAP];
    if (pvs_unattend_check_password(password, NULL, 0) < 0 || strlen(element) > 31)
        return PVS_EINVAL;
    int a = to_utf16le(password, buf, CAP);
    int b = to_utf16le(element, buf + 2 * a, CAP - a);
    if (b < 0)
        return PVS_EINVAL;
    size_t bytes = 2 * (size_t)(a + b);
    size_t len = sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(len);
    if (!b64) {
        sodium_memzero(buf, sizeof(buf));
        return PVS_ENOMEM;
    }
    sodium_bin2base64(b64, len, buf, bytes, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(buf, sizeof(buf));
    *out = b64;
    return 0;
}


int pvs_unattend_check_user(const char *user, char *why, size_t why_len)
{
    unsigned char buf[2 * PVS_UNATTEND_USER_MAX];
    if (!user || !*user) {
        pvs_text_error(why, why_len, "--user: the name is empty");
        return PVS_EINVAL;
    }
    const char *bad = strpbrk(user, "\"/\\[]:|<>+=;,?*%@");
    if (bad) {
        pvs_text_error(why, why_len, "--user '%s': Windows refuses '%c' in an account name",
                       user, *bad);
        return PVS_EINVAL;
    }
    if (to_utf16le(user, buf, PVS_UNATTEND_USER_MAX) < 0) {
        pvs_text_error(why, why_len, "--user: an account name is at most %d characters of "
                       "UTF-8 text without control characters", PVS_UNATTEND_USER_MAX);
        return PVS_EINVAL;
    }
    size_t n = strlen(user);
    if (user[n - 1] == '.' || user[n - 1] == ' ' || user[0] == ' ' ||
        strspn(user, ". ") == n) {
        pvs_text_error(why, why_len, "--user '%s': an account name may not start with a space "
                       "or end with a period or a space", user);
        return PVS_EINVAL;
    }
    static const char *const taken[] = { "Administrator", "Guest", "DefaultAccount",
                                         "WDAGUtilityAccount", "NONE" };
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        if (pvs_probe_ieq(user, taken[i])) {
            pvs_text_error(why, why_len, "--user '%s': Windows has that account already (or "
                           "reserves the name): pick another", user);
            return PVS_EINVAL;
        }
    }
    return 0;
}

void pvs_unattend_computer_name(const char *vm_name, char out[16])
{
    size_t n = 0;
    bool digits_only = true;
    for (const char *p = vm_name; *p && n < 15; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (n == 0 || out[n - 1] == '-'))
            continue; /* no leading or doubled '-' */
        out[n++] = alnum ? c : '-';
        digits_only = digits_only && (!alnum || (c >= '0' && c <= '9'));
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0 || digits_only)
        strcpy(out, "*");
}

const char pvs_unattend_first_logon_command[] =
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -NoProfile -NonInteractive "
    "-ExecutionPolicy Bypass -File \"" PVS_GUEST_SETUP_DIR "\\" PVS_GUEST_SETUP_SCRIPT "\"";

/* <Name>value</Name> on a line, `indent` spaces in; a bad value fails t. */
static void element(struct pvs_text *t, int indent, const char *name, const char *value)
{
    pvs_text_printf(t, "%*s<%s>", indent, "", name);
    if (pvs_xml_escape(t, value) < 0)
        pvs_text_fail(t, PVS_EINVAL);
    pvs_text_printf(t, "</%s>\n", name);
}

/* The attributes every component of the amd64 image carries. */
#define COMPONENT(name) \
    "    <component name=\"" name "\" processorArchitecture=\"amd64\" " \
    "publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\n"

static void password(struct pvs_text *t, int indent, const char *hidden)
{
    pvs_text_printf(t, "%*s<Password>\n", indent, "");
    element(t, indent + 2, "Value", hidden);
    element(t, indent + 2, "PlainText", "false");
    pvs_text_printf(t, "%*s</Password>\n", indent, "");
}

static const char *or_default(const char *v, const char *dflt)
{
    return v && *v ? v : dflt;
}

int pvs_unattend_xml(const struct pvs_unattend *u, char **xml, char *why, size_t why_len)
{
    *xml = NULL;
    const char *missing = !u->user || !*u->user ? "the user"
                        : !u->computer_name || !*u->computer_name ? "the computer name"
                        : !u->time_zone || !*u->time_zone ? "the time zone"
                        : !u->ui_language || !*u->ui_language ? "the UI language" : NULL;
    if (missing) {
        pvs_text_error(why, why_len, "the answer file needs %s", missing);
        return PVS_EINVAL;
    }
    if (pvs_unattend_check_user(u->user, why, why_len) < 0)
        return PVS_EINVAL;
    char *hidden = NULL;
    if (u->password) {
        int rc = pvs_unattend_hide_password(u->password, "Password", &hidden);
        if (rc < 0) {
            pvs_unattend_check_password(u->password, why, why_len);
            return rc;
        }
    }
    const char *value = hidden ? hidden
                               : "(the password, hidden as Windows expects: not shown)";
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<!-- Written by pvstream-host vm create for the VM '");
    /* A comment may not hold "--": the VM's name is shown with it spelt out. */
    for (const char *p = u->vm_name ? u->vm_name : ""; *p; p++) {
        if (*p == '-' && (p[1] == '-' || !p[1]))
            pvs_text_puts(&t, "(dash)");
        else if (pvs_xml_escape(&t, (char[2]){ *p, 0 }) < 0)
            pvs_text_fail(&t, PVS_EINVAL);
    }
    pvs_text_puts(&t, "'.\n"
        "     Windows Setup reads it at the first boot; the first sign-in deletes it. -->\n"
        "<unattend xmlns=\"urn:schemas-microsoft-com:unattend\" "
        "xmlns:wcm=\"http://schemas.microsoft.com/WMIConfig/2002/State\">\n"
        "  <settings pass=\"specialize\">\n"
        COMPONENT("Microsoft-Windows-Shell-Setup"));
    element(&t, 6, "ComputerName", u->computer_name);
    pvs_text_puts(&t, "    </component>\n"
                      "  </settings>\n"
                      "  <settings pass=\"oobeSystem\">\n"
                      COMPONENT("Microsoft-Windows-International-Core"));
    element(&t, 6, "InputLocale", or_default(u->input_locale, u->ui_language));
    element(&t, 6, "SystemLocale", or_default(u->system_locale, u->ui_language));
    element(&t, 6, "UILanguage", u->ui_language);
    element(&t, 6, "UserLocale", or_default(u->user_locale, u->ui_language));
    pvs_text_puts(&t, "    </component>\n"
                      COMPONENT("Microsoft-Windows-Shell-Setup"));
    /* No question at the first boot: licence, accounts, network, privacy
     * (ProtectYourPC 3: the recommended settings are not turned on). */
    pvs_text_puts(&t, "      <OOBE>\n");
    element(&t, 8, "HideEULAPage", "true");
    element(&t, 8, "HideLocalAccountScreen", "true");
    element(&t, 8, "HideOEMRegistrationScreen", "true");
    element(&t, 8, "HideOnlineAccountScreens", "true");
    element(&t, 8, "HideWirelessSetupInOOBE", "true");
    element(&t, 8, "ProtectYourPC", "3");
    pvs_text_puts(&t, "      </OOBE>\n"
                      "      <UserAccounts>\n"
                      "        <LocalAccounts>\n"
                      "          <LocalAccount wcm:action=\"add\">\n");
    password(&t, 12, value);
    element(&t, 12, "Group", "Administrators");
    element(&t, 12, "Name", u->user);
    element(&t, 12, "DisplayName", u->user);
    pvs_text_puts(&t, "          </LocalAccount>\n"
                      "        </LocalAccounts>\n"
                      "      </UserAccounts>\n");
    /* LogonCount is required; the setup script removes Winlogon's count
     * at the first sign-in, after which sign-in stays automatic. */
    pvs_text_puts(&t, "      <AutoLogon>\n");
    password(&t, 8, value);
    element(&t, 8, "Enabled", "true");
    element(&t, 8, "LogonCount", "999");
    element(&t, 8, "Username", u->user);
    pvs_text_puts(&t, "      </AutoLogon>\n");
    element(&t, 6, "TimeZone", u->time_zone);
    pvs_text_puts(&t, "      <FirstLogonCommands>\n"
                      "        <SynchronousCommand wcm:action=\"add\">\n");
    element(&t, 10, "Order", "1");
    element(&t, 10, "CommandLine", pvs_unattend_first_logon_command);
    element(&t, 10, "Description", "Install pvstream-server as a service");
    element(&t, 10, "RequiresUserInput", "false");
    pvs_text_puts(&t, "        </SynchronousCommand>\n"
                      "      </FirstLogonCommands>\n"
                      "    </component>\n"
                      "  </settings>\n"
                      "</unattend>\n");
    if (hidden) {
        sodium_memzero(hidden, strlen(hidden));
        free(hidden);
    }
    int rc = pvs_text_take(&t, xml);
    if (rc == PVS_EINVAL)
        pvs_text_error(why, why_len, "a value of the answer file holds a control character");
    else if (rc < 0)
        pvs_text_error(why, why_len, "out of memory");
    return rc;
}

static const char setup_script[] =
    "# Written by pvstream-host vm create. Run once, elevated, at the first\n"
    "# sign-in (the answer file's first-logon command): installs pvstream-server\n"
    "# as a service and tells the host how it went (pvstream-host vm status).\n"
    "Set-StrictMode -Version 3.0\n"
    "$ErrorActionPreference = 'Stop'\n"
    "$dir = Join-Path $env:ProgramFiles 'pvstream'\n"
    "$setup = Join-Path $dir 'setup'\n"
    "try { Start-Transcript -LiteralPath (Join-Path $setup 'firstlogon.log') -Append | Out-Null } catch { }\n"
    "\n"
    "# Hyper-V's data exchange carries this key's values to the host.\n"
    "function Send-PvsState([string]$Name, [string]$Value) {\n"
    "    try {\n"
    "        $key = '" PVS_GUEST_KVP_KEY "'\n"
    "        if (-not (Test-Path -LiteralPath $key)) { New-Item -Path $key -Force | Out-Null }\n"
    "        Set-ItemProperty -LiteralPath $key -Name $Name -Value $Value\n"
    "    } catch {\n"
    "        Write-Warning ('cannot report to the host: ' + $_.Exception.Message)\n"
    "    }\n"
    "}\n"
    "\n"
    "try {\n"
    "    $server = Join-Path $dir 'pvstream-server.exe'\n"
    "    # Clients reach the server (UDP 47100-47102, and the GameStream ports)\n"
    "    # through this rule for the program.\n"
    "    Get-NetFirewallRule -DisplayName 'pvstream-server' -ErrorAction SilentlyContinue | Remove-NetFirewallRule\n"
    "    New-NetFirewallRule -DisplayName 'pvstream-server' -Direction Inbound -Program $server -Action Allow | Out-Null\n"
    "    # The service makes its identity key when it first starts, here in the\n"
    "    # guest: no two VMs share one.\n"
    "    & $server service install --config (Join-Path $dir '" PVS_GUEST_CONFIG "')\n"
    "    if ($LASTEXITCODE -ne 0) { throw ('pvstream-server service install failed (exit status {0})' -f $LASTEXITCODE) }\n"
    "    & $server service start\n"
    "    if ($LASTEXITCODE -ne 0) { throw ('pvstream-server service start failed (exit status {0})' -f $LASTEXITCODE) }\n"
    "    $ps = Join-Path $env:SystemRoot 'System32\\WindowsPowerShell\\v1.0\\powershell.exe'\n"
    "    $report = Join-Path $setup '" PVS_GUEST_STATE_SCRIPT "'\n"
    "    $action = New-ScheduledTaskAction -Execute $ps -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"{0}\"' -f $report)\n"
    "    $triggers = @((New-ScheduledTaskTrigger -AtStartup),\n"
    "        (New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 1)))\n"
    "    Register-ScheduledTask -TaskName 'pvstream state for Hyper-V' -Action $action -Trigger $triggers `\n"
    "        -User 'SYSTEM' -RunLevel Highest -Force | Out-Null\n"
    "    Start-ScheduledTask -TaskName 'pvstream state for Hyper-V'\n"
    "    Send-PvsState 'PvstreamSetup' 'done'\n"
    "} catch {\n"
    "    Send-PvsState 'PvstreamSetup' ('failed: ' + $_.Exception.Message + ' (see ' + (Join-Path $setup 'firstlogon.log') + ')')\n"
    "    Write-Warning ('pvstream setup failed: ' + $_.Exception.Message)\n"
    "} finally {\n"
    "    # Without a count Winlogon signs the user in at every boot.\n"
    "    Remove-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon' `\n"
    "        -Name 'AutoLogonCount' -ErrorAction SilentlyContinue\n"
    "    # The answer file holds the password (hidden, not encrypted).\n"
    "    foreach ($f in @('Panther\\unattend.xml', 'Panther\\Unattend\\unattend.xml')) {\n"
    "        Remove-Item -LiteralPath (Join-Path $env:SystemRoot $f) -Force -ErrorAction SilentlyContinue\n"
    "    }\n"
    "    try { Stop-Transcript | Out-Null } catch { }\n"
    "}\n";

/* A script as its file: with the UTF-8 byte order mark Windows
 * PowerShell 5.1 needs to read it as UTF-8 (ps.h). */
static int script_file(const char *body, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "\xef\xbb\xbf");
    pvs_text_puts(&t, body);
    return pvs_text_take(&t, out);
}

int pvs_unattend_setup_script(char **out)
{
    return script_file(setup_script, out);
}

static const char state_script[] =
    "# Written by pvstream-host vm create. Run by a scheduled task as SYSTEM at\n"
    "# startup and every minute: the pvstream service's state, for the host's\n"
    "# pvstream-host vm status (Hyper-V's data exchange carries it there).\n"
    "$state = 'absent'\n"
    "$svc = Get-Service -Name 'pvstream' -ErrorAction SilentlyContinue\n"
    "if ($svc) { $state = [string]$svc.Status }\n"
    "$key = '" PVS_GUEST_KVP_KEY "'\n"
    "if (-not (Test-Path -LiteralPath $key)) { New-Item -Path $key -Force | Out-Null }\n"
    "$when = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')\n"
    "Set-ItemProperty -LiteralPath $key -Name 'PvstreamService' -Value ($state + ' ' + $when)\n";

int pvs_unattend_state_script(char **out)
{
    return script_file(state_script, out);
}

int pvs_unattend_server_ini(int width, int height, int fps, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t,
        "; Written by pvstream-host vm create: this VM's pvstream-server settings,\n"
        "; which the service reads. Every other setting has its default\n"
        "; (pvstream-server.ini beside this file documents them all).\n");
    if (width > 0 && height > 0)
        pvs_text_printf(&t, "[capture]\nsize = %dx%d\n", width, height);
    if (fps > 0)
        pvs_text_printf(&t, "[encode]\nfps = %d\n", fps);
    return pvs_text_take(&t, out);
}
