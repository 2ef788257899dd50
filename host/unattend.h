/* What `pvstream-host vm create` (vm.h) writes into a new VM's disk before
 * its first boot: the answer file Windows Setup reads, and the files that
 * install pvstream-server at the first sign-in. All pure text, so the
 * tests read it on any system.
 *
 * The answer file (Windows\Panther\unattend.xml on the applied image,
 * where Setup looks for one) answers what an interactive setup would
 * ask: the locale (the image's own UI language; the host's formats and
 * keyboard), the time zone (the host's), a local administrator and its
 * password, automatic sign-in of that user (so the desktop exists when the
 * VM boots), no out-of-box questions, the computer's name, and one
 * first-logon command: the setup script below.
 *
 * The password goes in as Windows' answer files hide one (PlainText
 * false): UTF-16LE of the password followed by the name of its element
 * ("Password"), in Base64. Fact from Microsoft's unattend reference
 * (Microsoft-Windows-Shell-Setup | UserAccounts | LocalAccounts |
 * LocalAccount | Password): its example value decodes to
 * "passwordPassword". That hides it from a glance, nothing more: the
 * setup script deletes the answer file at the first sign-in. */
#ifndef PVS_HOST_UNATTEND_H
#define PVS_HOST_UNATTEND_H

#include <stddef.h>

/* Where things go in the guest (its Windows volume is C:). Program Files,
 * which only administrators may change: the setup script runs elevated and
 * the state reporter as SYSTEM, so neither may be replaceable by a user. */
#define PVS_GUEST_DIR "C:\\Program Files\\pvstream"
#define PVS_GUEST_SETUP_DIR PVS_GUEST_DIR "\\setup"
#define PVS_GUEST_SETUP_SCRIPT "firstlogon.ps1"   /* in PVS_GUEST_SETUP_DIR */
#define PVS_GUEST_STATE_SCRIPT "report-state.ps1" /* in PVS_GUEST_SETUP_DIR */
#define PVS_GUEST_CONFIG "vm.ini"                  /* in PVS_GUEST_DIR */
/* The registry key whose values Hyper-V carries to the host (the data
 * exchange integration service): the host reads them from
 * Msvm_KvpExchangeComponent.GuestExchangeItems. */
#define PVS_GUEST_KVP_KEY "HKLM:\\SOFTWARE\\Microsoft\\Virtual Machine\\Guest"

#define PVS_UNATTEND_PASSWORD_MAX 127  /* characters (UTF-16 units) */
#define PVS_UNATTEND_USER_MAX 20       /* a local account name's limit */

/* The answer file's Base64 form of a password for the element `element`
 * ("Password"): Base64(UTF-16LE(password + element)). *out is the
 * caller's. Returns 0, PVS_EINVAL (not UTF-8, a control character, empty,
 * longer than PVS_UNATTEND_PASSWORD_MAX) or PVS_ENOMEM. */
int pvs_unattend_hide_password(const char *password, const char *element, char **out);

/* Checks a password before anything is made (the same rules as above);
 * PVS_EINVAL with the reason in why. */
int pvs_unattend_check_password(const char *password, char *why, size_t why_len);

/* Checks a local account name: 1..20 characters, none of
 * " / \ [ ] : | < > + = ; , ? * % @ nor a control character, not ending in
 * a period or a space, not made of periods and spaces only, and not one of
 * Windows' own accounts (Administrator, Guest, DefaultAccount,
 * WDAGUtilityAccount) nor "NONE". Facts from Microsoft's USER_INFO_0 and
 * unattend LocalAccount Name pages. PVS_EINVAL with the reason in why. */
int pvs_unattend_check_user(const char *user, char *why, size_t why_len);

/* A NetBIOS computer name from a VM name: its letters, digits and '-'
 * (anything else becomes '-'), at most 15, no '-' at either end; "*"
 * (Setup picks one) when nothing usable is left or it is all digits. */
void pvs_unattend_computer_name(const char *vm_name, char out[16]);

struct pvs_unattend {
    const char *user;            /* the local administrator, signed in automatically */
    const char *password;        /* NULL: a placeholder (what --dry-run prints) */
    const char *computer_name;   /* pvs_unattend_computer_name */
    const char *time_zone;       /* Windows' id: "W. Europe Standard Time" */
    const char *ui_language;     /* the image's: "en-US" */
    const char *system_locale;   /* the host's; NULL or "": ui_language */
    const char *user_locale;     /* the host's; NULL or "": ui_language */
    const char *input_locale;    /* "0409:00000409"; NULL or "": ui_language */
    const char *vm_name;         /* for the comment at the top */
};

/* The answer file: UTF-8 XML, one element a line. Returns 0, PVS_EINVAL
 * (a missing or bad value; why says which) or PVS_ENOMEM. *xml is the
 * caller's. */
int pvs_unattend_xml(const struct pvs_unattend *u, char **xml, char *why, size_t why_len);

/* The first-logon setup script (PowerShell, run elevated by the answer
 * file's first-logon command): a firewall rule for pvstream-server, the
 * service installed with vm.ini and started (its identity key is made
 * then, by the service, in the guest), the state reporter as a scheduled
 * task, automatic sign-in kept on, the answer file deleted; it logs to
 * firstlogon.log beside it and reports its result to the host. *out is
 * the caller's; 0 or PVS_ENOMEM. */
int pvs_unattend_setup_script(char **out);

/* The state reporter (PowerShell, run by a scheduled task as SYSTEM at
 * startup and every minute): the pvstream service's state into
 * PVS_GUEST_KVP_KEY, value PvstreamService, for `vm status`. */
int pvs_unattend_state_script(char **out);

/* vm.ini: the server's settings from --size and --fps (0: not set, the
 * client's). Returns 0 or PVS_ENOMEM. */
int pvs_unattend_server_ini(int width, int height, int fps, char **out);

/* The answer file's first-logon command line. */
extern const char pvs_unattend_first_logon_command[];

#endif
