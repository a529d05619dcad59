// scp.cpp — the Storage and Verification SCP of dxnet.h over DCMTK's association and DIMSE layers.
#include "dxnet.h"
#include "dxdcm.h"
#include "netcommon.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"

namespace {

/// An event as the SCP threads queue it (strings, not fixed buffers, until Swift takes it).
struct Event {
    int kind = 0;
    std::string peer, path, sop, sopClass, study, series, syntax, message;
};

/// Transfer syntaxes the SCP accepts (what dxkit can read). The peer's own order decides among them,
/// so an instance is stored as the peer holds it.
const char *const kSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax, UID_JPEGProcess14TransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax, UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax, UID_RLELosslessTransferSyntax,
};

bool supportedSyntax(const char *uid) {
    for (const char *s : kSyntaxes)
        if (std::strcmp(s, uid) == 0) return true;
    return false;
}

bool supportedAbstractSyntax(const char *uid) {
    if (std::strcmp(uid, UID_VerificationSOPClass) == 0) return true;
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
        if (std::strcmp(dcmAllStorageSOPClassUIDs[i], uid) == 0) return true;
    return false;
}

}  // namespace

struct dx_scp {
    std::string ae, store, incoming;
    std::vector<std::string> allow;
    int maxAssociations = 16;
    int timeout = 30;
    T_ASC_Network *net = nullptr;
    std::thread acceptor;
    std::atomic<bool> stopping{false};
    std::atomic<unsigned long> counter{0};

    std::mutex lock;
    std::condition_variable changed;
    std::deque<Event> events;
    int running = 0;   // associations being served (guarded by lock)

    void push(Event e) {
        std::lock_guard<std::mutex> g(lock);
        events.push_back(std::move(e));
        changed.notify_all();
    }
    void error(const std::string &peer, const std::string &message) {
        Event e;
        e.kind = DX_EVENT_ERROR;
        e.peer = peer;
        e.message = message;
        push(std::move(e));
    }
    void info(const std::string &peer, const std::string &message) {
        Event e;
        e.kind = DX_EVENT_INFO;
        e.peer = peer;
        e.message = message;
        push(std::move(e));
    }
    bool allowed(const std::string &calling, const std::string &address) const {
        if (allow.empty()) return true;
        for (const std::string &entry : allow) {
            size_t at = entry.find('@');
            if (at == std::string::npos) {
                if (entry == calling) return true;
            } else if (entry.substr(0, at) == calling && entry.substr(at + 1) == address) {
                return true;
            }
        }
        return false;
    }
};

namespace {

/// What one C-STORE's callback decides, and the file it leaves.
struct StoreContext {
    dx_scp *scp;
    std::string peer, temporary, syntax, contextClass;
    bool stored = false;
    Event event;
};

std::string elementText(DcmItem *item, const DcmTagKey &tag) {
    OFString value;
    if (item->findAndGetOFStringArray(tag, value).bad()) return "";
    return dxnet::trimmed(value.c_str());
}

bool syncFile(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

bool makeFolders(const std::string &path) {
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            std::string part = path.substr(0, i);
            if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
        }
    }
    return true;
}

/// At the end of a received dataset: check that it is the instance the command announced, then
/// move it into the store (fsync'ed, renamed) — only then is the answer success.
void storeCallback(void *data, T_DIMSE_StoreProgress *progress, T_DIMSE_C_StoreRQ *request, char *, DcmDataset **,
                   T_DIMSE_C_StoreRSP *response, DcmDataset **) {
    if (progress->state != DIMSE_StoreEnd) return;
    StoreContext *ctx = static_cast<StoreContext *>(data);
    if (response->DimseStatus != STATUS_Success) return;
    auto refuse = [&](Uint16 status, const std::string &why) {
        response->DimseStatus = status;
        ctx->scp->error(ctx->peer, "C-STORE of SOP instance " + dxnet::printable(request->AffectedSOPInstanceUID, 64) +
                                       " refused (status " + dxnet::hex(status) + "): " + why);
    };
    DcmFileFormat file;
    OFCondition c = file.loadFile(ctx->temporary.c_str(), EXS_Unknown, EGL_noChange, 256, ERM_autoDetect);
    if (c.bad()) return refuse(STATUS_STORE_Error_CannotUnderstand, std::string("the dataset is not DICOM: ") + c.text());
    DcmDataset *ds = file.getDataset();
    const std::string sop = elementText(ds, DCM_SOPInstanceUID), sopClass = elementText(ds, DCM_SOPClassUID);
    const std::string study = elementText(ds, DCM_StudyInstanceUID), series = elementText(ds, DCM_SeriesInstanceUID);
    if (sop != dxnet::trimmed(request->AffectedSOPInstanceUID))
        return refuse(STATUS_STORE_Error_DataSetDoesNotMatchSOPClass,
                      "the dataset's SOP Instance UID (" + dxnet::printable(sop, 64) + ") is not the one the command announced");
    if (ctx->contextClass != dxnet::trimmed(request->AffectedSOPClassUID))
        return refuse(STATUS_STORE_Error_DataSetDoesNotMatchSOPClass,
                      "the command's SOP class is not the one its presentation context was negotiated for (" +
                          dxnet::printable(ctx->contextClass, 64) + ")");
    if (sopClass != dxnet::trimmed(request->AffectedSOPClassUID))
        return refuse(STATUS_STORE_Error_DataSetDoesNotMatchSOPClass,
                      "the dataset's SOP Class UID (" + dxnet::printable(sopClass, 64) + ") is not the one the command announced");
    if (!dxnet::validUID(sop)) return refuse(STATUS_STORE_Error_CannotUnderstand, "the SOP Instance UID is not a valid UID");
    if (!dxnet::validUID(study)) return refuse(STATUS_STORE_Error_CannotUnderstand, "no valid Study Instance UID (0020,000D)");
    if (!dxnet::validUID(series)) return refuse(STATUS_STORE_Error_CannotUnderstand, "no valid Series Instance UID (0020,000E)");

    const std::string folder = ctx->scp->store + "/" + study + "/" + series;
    const std::string target = folder + "/" + sop + ".dcm";
    if (!syncFile(ctx->temporary) || !makeFolders(folder) || ::rename(ctx->temporary.c_str(), target.c_str()) != 0)
        return refuse(STATUS_STORE_Refused_OutOfResources, std::string("cannot store the file: ") + std::strerror(errno));
    int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    ctx->stored = true;
    ctx->event.kind = DX_EVENT_STORED;
    ctx->event.peer = ctx->peer;
    ctx->event.path = target;
    ctx->event.sop = sop;
    ctx->event.sopClass = sopClass;
    ctx->event.study = study;
    ctx->event.series = series;
    ctx->event.syntax = ctx->syntax;
}

/// Answers one C-STORE request: the dataset is written bit for bit into a temporary file.
/// Returns false when the association cannot go on; `stored` says whether an instance was kept.
bool handleStore(dx_scp *scp, T_ASC_Association *assoc, T_ASC_PresentationContextID presID, T_DIMSE_C_StoreRQ &request,
                 const std::string &peer, bool &stored) {
    StoreContext ctx;
    ctx.scp = scp;
    ctx.peer = peer;
    ctx.temporary = scp->incoming + "/" + std::to_string(::getpid()) + "-" + std::to_string(++scp->counter) + ".part";
    T_ASC_PresentationContext pc;
    if (ASC_findAcceptedPresentationContext(assoc->params, presID, &pc).good()) {
        ctx.syntax = pc.acceptedTransferSyntax;
        ctx.contextClass = pc.abstractSyntax;   // the dataset still has to be read off the wire; checked at its end
    }
    OFCondition c = DIMSE_storeProvider(assoc, presID, &request, ctx.temporary.c_str(), 1, nullptr, storeCallback, &ctx,
                                        DIMSE_NONBLOCKING, scp->timeout);
    if (!ctx.stored) ::unlink(ctx.temporary.c_str());
    if (c.bad()) {
        std::string what = c == DUL_PEERABORTEDASSOCIATION ? "the peer aborted the association"
                           : c == DUL_PEERREQUESTEDRELEASE ? "the peer released the association"
                                                           : std::string(c.text());
        scp->error(peer, "receiving SOP instance " + dxnet::printable(request.AffectedSOPInstanceUID, 64) +
                             " failed: " + what + "; nothing stored");
        return false;
    }
    stored = ctx.stored;
    if (ctx.stored) scp->push(std::move(ctx.event));
    return true;
}

void reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters rej = {result, ASC_SOURCE_SERVICEUSER, reason};
    if (reason == ASC_REASON_SP_PRES_TEMPORARYCONGESTION || reason == ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED)
        rej.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
    (void)ASC_rejectAssociation(assoc, &rej);
}

void finish(T_ASC_Association *assoc) {
    (void)ASC_dropSCPAssociation(assoc);
    (void)ASC_destroyAssociation(&assoc);
}

/// Serves one association: checks who calls, negotiates, then answers C-ECHO and C-STORE until the
/// peer releases, aborts, idles past the timeout or the SCP stops.
void serve(dx_scp *scp, T_ASC_Association *assoc) {
    char calling[80] = {0}, called[80] = {0};
    (void)ASC_getAPTitles(assoc->params, calling, sizeof calling, called, sizeof called, nullptr, 0);
    const std::string address = dxnet::printable(assoc->params->DULparams.callingPresentationAddress, 63);
    const std::string callingAE = dxnet::printable(dxnet::trimmed(calling), 16);
    const std::string peer = callingAE + "@" + address;
    if (!scp->allowed(callingAE, address)) {
        reject(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        scp->error(peer, "association rejected: calling AE title and address not in --allow");
        return finish(assoc);
    }
    if (dxnet::trimmed(called) != scp->ae) {
        reject(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED);
        scp->error(peer, "association rejected: called AE title " + dxnet::printable(dxnet::trimmed(called), 16) +
                             " is not ours (" + scp->ae + ")");
        return finish(assoc);
    }
    // Each proposed context: the peer's first transfer syntax that dxkit reads is accepted.
    std::string refused;
    int accepted = 0;
    const int count = ASC_countPresentationContexts(assoc->params);
    for (int i = 0; i < count; ++i) {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(assoc->params, i, &pc).bad()) continue;
        if (!supportedAbstractSyntax(pc.abstractSyntax)) {
            (void)ASC_refusePresentationContext(assoc->params, pc.presentationContextID, ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
            refused += " " + dxnet::printable(pc.abstractSyntax, 64) + " (SOP class not supported)";
            continue;
        }
        const char *chosen = nullptr;
        for (int t = 0; t < pc.transferSyntaxCount && chosen == nullptr; ++t)
            if (supportedSyntax(pc.proposedTransferSyntaxes[t])) chosen = pc.proposedTransferSyntaxes[t];
        if (chosen == nullptr) {
            (void)ASC_refusePresentationContext(assoc->params, pc.presentationContextID, ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
            refused += " " + dxnet::printable(pc.abstractSyntax, 64) + " (no transfer syntax dxkit reads)";
            continue;
        }
        if (ASC_acceptPresentationContext(assoc->params, pc.presentationContextID, chosen).good()) ++accepted;
    }
    (void)ASC_setAPTitles(assoc->params, nullptr, nullptr, scp->ae.c_str());
    OFCondition c = ASC_acknowledgeAssociation(assoc);
    if (c.bad()) {
        scp->error(peer, std::string("cannot acknowledge the association: ") + c.text());
        return finish(assoc);
    }
    if (!refused.empty()) scp->error(peer, "presentation contexts rejected:" + refused);
    scp->info(peer, "association accepted (" + std::to_string(accepted) + " of " + std::to_string(count) +
                        " presentation contexts)");

    int idle = 0, stored = 0;
    for (;;) {
        if (!ASC_dataWaiting(assoc, 1)) {
            if (scp->stopping.load()) {
                scp->error(peer, "association aborted: dxkit is shutting down");
                (void)ASC_abortAssociation(assoc);
                break;
            }
            if (++idle >= scp->timeout) {
                scp->error(peer, "association aborted: idle for " + std::to_string(idle) + " s");
                (void)ASC_abortAssociation(assoc);
                break;
            }
            continue;
        }
        idle = 0;
        T_DIMSE_Message msg;
        T_ASC_PresentationContextID presID = 0;
        c = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, scp->timeout, &presID, &msg, nullptr);
        if (c == DUL_PEERREQUESTEDRELEASE) {
            (void)ASC_acknowledgeRelease(assoc);
            scp->info(peer, "association released (" + std::to_string(stored) + " instances stored)");
            break;
        }
        if (c == DUL_PEERABORTEDASSOCIATION) {
            scp->error(peer, "the peer aborted the association (" + std::to_string(stored) + " instances stored)");
            break;
        }
        if (c.bad()) {
            scp->error(peer, std::string("association aborted: cannot read a command: ") + c.text());
            (void)ASC_abortAssociation(assoc);
            break;
        }
        if (msg.CommandField == DIMSE_C_ECHO_RQ) {
            c = DIMSE_sendEchoResponse(assoc, presID, &msg.msg.CEchoRQ, STATUS_Success, nullptr);
        } else if (msg.CommandField == DIMSE_C_STORE_RQ) {
            bool kept = false;
            if (!handleStore(scp, assoc, presID, msg.msg.CStoreRQ, peer, kept)) {
                (void)ASC_abortAssociation(assoc);
                break;
            }
            if (kept) ++stored;
            continue;
        } else {
            scp->error(peer, "association aborted: unsupported DIMSE command " + dxnet::hex(msg.CommandField));
            (void)ASC_abortAssociation(assoc);
            break;
        }
        if (c.bad()) {
            scp->error(peer, std::string("association aborted: cannot answer: ") + c.text());
            (void)ASC_abortAssociation(assoc);
            break;
        }
    }
    finish(assoc);
}

void acceptLoop(dx_scp *scp) {
    while (!scp->stopping.load()) {
        if (!ASC_associationWaiting(scp->net, 1)) continue;
        T_ASC_Association *assoc = nullptr;
        OFCondition c = ASC_receiveAssociation(scp->net, &assoc, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse,
                                               DUL_NOBLOCK, scp->timeout);
        if (c.bad()) {
            std::string peer = "?";
            if (assoc != nullptr) peer = "@" + dxnet::printable(assoc->params->DULparams.callingPresentationAddress, 63);
            if (c != DUL_NOASSOCIATIONREQUEST) scp->error(peer, std::string("no valid association request: ") + c.text());
            if (assoc != nullptr) finish(assoc);
            continue;
        }
        {
            std::lock_guard<std::mutex> g(scp->lock);
            if (scp->running >= scp->maxAssociations || scp->stopping.load()) {
                reject(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
                std::string peer = "@" + dxnet::printable(assoc->params->DULparams.callingPresentationAddress, 63);
                finish(assoc);
                scp->events.push_back(Event{DX_EVENT_ERROR, peer, "", "", "", "", "", "",
                                            "association rejected: " + std::to_string(scp->maxAssociations) +
                                                " associations already running"});
                scp->changed.notify_all();
                continue;
            }
            ++scp->running;
        }
        std::thread([scp, assoc] {
            serve(scp, assoc);
            std::lock_guard<std::mutex> g(scp->lock);
            --scp->running;
            scp->changed.notify_all();
        }).detach();
    }
}

void fill(char *dst, size_t size, const std::string &src) {
    std::snprintf(dst, size, "%s", src.c_str());
}

}  // namespace

dx_scp *dx_scp_start(const dx_scp_config *config, char *err, size_t errlen) {
    dx_init();
    dxnet::init();
    dx_scp *scp = new dx_scp();
    scp->ae = config->ae_title;
    scp->store = config->store_dir;
    scp->incoming = config->incoming_dir;
    for (int i = 0; i < config->allow_count; ++i) scp->allow.push_back(config->allow[i]);
    scp->maxAssociations = config->max_associations > 0 ? config->max_associations : 16;
    scp->timeout = config->timeout_seconds > 0 ? config->timeout_seconds : 30;
    if (!makeFolders(scp->store) || !makeFolders(scp->incoming)) {
        std::snprintf(err, errlen, "cannot create %s or %s: %s", scp->store.c_str(), scp->incoming.c_str(), std::strerror(errno));
        delete scp;
        return nullptr;
    }
    OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, config->port, scp->timeout, &scp->net);
    if (c.bad()) {
        std::snprintf(err, errlen, "cannot listen on port %d: %s", config->port, c.text());
        delete scp;
        return nullptr;
    }
    scp->acceptor = std::thread(acceptLoop, scp);
    return scp;
}

int dx_scp_next_event(dx_scp *scp, int timeout_ms, dx_scp_event *event) {
    std::unique_lock<std::mutex> g(scp->lock);
    if (scp->events.empty())
        scp->changed.wait_for(g, std::chrono::milliseconds(timeout_ms), [scp] { return !scp->events.empty(); });
    if (scp->events.empty()) return 0;
    Event e = std::move(scp->events.front());
    scp->events.pop_front();
    g.unlock();
    std::memset(event, 0, sizeof *event);
    event->kind = e.kind;
    fill(event->peer, sizeof event->peer, e.peer);
    fill(event->path, sizeof event->path, e.path);
    fill(event->sop_instance_uid, sizeof event->sop_instance_uid, e.sop);
    fill(event->sop_class_uid, sizeof event->sop_class_uid, e.sopClass);
    fill(event->study_instance_uid, sizeof event->study_instance_uid, e.study);
    fill(event->series_instance_uid, sizeof event->series_instance_uid, e.series);
    fill(event->transfer_syntax, sizeof event->transfer_syntax, e.syntax);
    fill(event->message, sizeof event->message, e.message);
    return 1;
}

int dx_scp_stop(dx_scp *scp, int grace_seconds) {
    if (scp->stopping.exchange(true)) return 0;
    if (scp->acceptor.joinable()) scp->acceptor.join();
    std::unique_lock<std::mutex> g(scp->lock);
    scp->changed.wait_for(g, std::chrono::seconds(grace_seconds), [scp] { return scp->running == 0; });
    return scp->running;
}

void dx_scp_free(dx_scp *scp) {
    int running;
    {
        std::lock_guard<std::mutex> g(scp->lock);
        running = scp->running;
    }
    // Threads still serving an association hold the pointer: leave it to the process's end.
    if (running > 0) return;
    if (scp->net != nullptr) (void)ASC_dropNetwork(&scp->net);
    delete scp;
}
