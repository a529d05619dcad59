/* dxnet.h — a plain C interface over DCMTK's dcmnet (DICOM upper layer and DIMSE).
 *
 * Nothing C++ crosses this header. Two halves:
 *  - a Storage and Verification SCP (dx_scp_*): an acceptor thread and one thread per
 *    association; each C-STORE is received straight to a temporary file (bit-preserving, as the
 *    peer encoded it), checked, and only then renamed into the store folder and reported as an
 *    event. Swift pulls events (dx_scp_next_event); no callback ever runs Swift code on a DCMTK
 *    thread.
 *  - SCU calls (dx_echo, dx_send_files, dx_find_studies, dx_move_study) that open one association,
 *    do their work and release it, filling a reason into `err` on failure.
 * Every value a peer sends is untrusted: sizes come from DCMTK's checked parsing, UIDs are checked
 * against the command that announced them, and one bad association is one error event naming the
 * peer — the SCP keeps serving.
 */
#ifndef DXNET_H
#define DXNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Storage SCP ------------------------------------------------------- */

typedef struct dx_scp dx_scp;

typedef struct {
    const char *ae_title;        /* our AE title (called AE title checked against it) */
    int port;                    /* TCP port to listen on (all interfaces) */
    const char *store_dir;       /* received instances: <store_dir>/<study>/<series>/<sop>.dcm */
    const char *incoming_dir;    /* temporary files while receiving (same file system as store_dir) */
    const char *const *allow;    /* "AE" or "AE@address" (numeric address); NULL or 0 entries: anyone */
    int allow_count;
    int max_associations;        /* concurrent associations; more are rejected (transient) */
    int timeout_seconds;         /* ACSE/DIMSE read timeout, and how long an idle association may stay */
} dx_scp_config;

enum {
    DX_EVENT_STORED = 1,         /* an instance is on disk at `path`: uids filled */
    DX_EVENT_INFO = 2,           /* association opened/closed: `message` */
    DX_EVENT_ERROR = 3           /* something failed (rejected AE, abort, bad dataset): `message` */
};

typedef struct {
    int kind;
    char peer[96];               /* "CALLINGAE@address" (AE title unchecked text, control characters removed) */
    char path[4096];
    char sop_instance_uid[72];
    char sop_class_uid[72];
    char study_instance_uid[72];
    char series_instance_uid[72];
    char transfer_syntax[72];
    char message[1024];
} dx_scp_event;

/* Binds the port and starts accepting. NULL with the reason in `err` (port in use, bad folder). */
dx_scp *dx_scp_start(const dx_scp_config *config, char *err, size_t errlen);
/* Waits up to `timeout_ms` for the next event: 1 with `event` filled, 0 when none came. */
int dx_scp_next_event(dx_scp *scp, int timeout_ms, dx_scp_event *event);
/* Stops accepting, lets running associations finish for up to `grace_seconds`, then stops waiting
 * for them (a transfer cut off leaves only a temporary file, never an instance). Queued events stay
 * readable. Returns the number of associations still running when it gave up. */
int dx_scp_stop(dx_scp *scp, int grace_seconds);
/* Frees the SCP (after dx_scp_stop). */
void dx_scp_free(dx_scp *scp);

/* --- SCU --------------------------------------------------------------- */

typedef struct {
    const char *our_ae;          /* calling AE title */
    const char *peer_ae;         /* called AE title */
    const char *host;
    int port;
    int timeout_seconds;
} dx_peer;

/* C-ECHO. 1 on success. */
int dx_echo(const dx_peer *peer, char *err, size_t errlen);

/* Result of sending one file. */
typedef struct {
    int sent;                    /* 1: the peer answered success (or a warning) */
    uint16_t status;             /* the DIMSE status the peer answered (0 when none) */
    char sop_instance_uid[72];
    char transfer_syntax[72];    /* the transfer syntax it went out in */
    char message[512];           /* why it was not sent, or the warning */
} dx_send_result;

/* C-STORE of `count` files on one association (per file: its own transfer syntax is proposed, with
 * Explicit and Implicit VR Little Endian as fallback; DCMTK converts when the peer only accepts
 * those). Per-file outcomes go to `results`. Returns 1 when the association worked (each file's
 * outcome is in results), 0 with the reason in `err` when no file could be sent. */
int dx_send_files(const dx_peer *peer, const char *const *paths, int count, dx_send_result *results,
                  char *err, size_t errlen);

/* Study-level C-FIND keys (empty strings are universal matches). */
typedef struct {
    const char *patient_id;
    const char *study_date;      /* "YYYYMMDD" or "YYYYMMDD-YYYYMMDD" */
    const char *modality;        /* ModalitiesInStudy */
    const char *study_instance_uid;
    const char *accession_number;
} dx_study_query;

/* C-FIND (Study Root, STUDY level). On success returns the number of matches and sets `*rows` to a
 * malloc'ed text (free with dx_net_free): one line per match, fields separated by tabs, in this
 * order: StudyInstanceUID, StudyDate, StudyTime, AccessionNumber, PatientID, ModalitiesInStudy,
 * StudyDescription, NumberOfStudyRelatedSeries, NumberOfStudyRelatedInstances (tabs, newlines and
 * control characters in values replaced by spaces). -1 with the reason in `err`. */
int dx_find_studies(const dx_peer *peer, const dx_study_query *query, char **rows, char *err, size_t errlen);

/* C-MOVE (Study Root, STUDY level) of one study to `destination_ae`. 1 when the peer reported the
 * move finished; counts of completed, failed and warning sub-operations are filled. 0 with the
 * reason in `err`. */
int dx_move_study(const dx_peer *peer, const char *study_instance_uid, const char *destination_ae,
                  int *completed, int *failed, int *warning, char *err, size_t errlen);

void dx_net_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
