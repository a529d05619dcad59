// scu.cpp — the SCU calls of dxnet.h (C-ECHO, C-STORE, C-FIND, C-MOVE) over DCMTK's DcmSCU.
#include "dxnet.h"
#include "dxdcm.h"
#include "netcommon.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/scu.h"

namespace {

void say(char *err, size_t errlen, const std::string &text) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", text.c_str());
}

std::string peerName(const dx_peer *peer) {
    return std::string(peer->peer_ae) + "@" + peer->host + ":" + std::to_string(peer->port);
}

/// A DcmSCU set up for one peer (timeouts bound every wait: a silent peer cannot hang dxkit).
void configure(DcmSCU &scu, const dx_peer *peer) {
    dx_init();
    dxnet::init();
    const int timeout = peer->timeout_seconds > 0 ? peer->timeout_seconds : 30;
    scu.setAETitle(peer->our_ae);
    scu.setPeerAETitle(peer->peer_ae);
    scu.setPeerHostName(peer->host);
    scu.setPeerPort(static_cast<Uint16>(peer->port));
    scu.setACSETimeout(timeout);
    scu.setDIMSETimeout(timeout);
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setConnectionTimeout(timeout);
    scu.setDatasetConversionMode(OFTrue);
    scu.setProgressNotificationMode(OFFalse);
}

OFList<OFString> uncompressed() {
    OFList<OFString> ts;
    ts.push_back(UID_LittleEndianExplicitTransferSyntax);
    ts.push_back(UID_LittleEndianImplicitTransferSyntax);
    return ts;
}

/// Opens the association; false with the reason (refused, unreachable, rejected) in `err`.
bool open(DcmSCU &scu, const dx_peer *peer, char *err, size_t errlen) {
    OFCondition c = scu.initNetwork();
    if (c.good()) c = scu.negotiateAssociation();
    if (c.bad()) {
        say(err, errlen, "cannot open an association with " + peerName(peer) + ": " + c.text());
        return false;
    }
    return true;
}

std::string text(DcmItem *item, const DcmTagKey &tag) {
    OFString v;
    if (item == nullptr || item->findAndGetOFStringArray(tag, v).bad()) return "";
    std::string out;
    for (unsigned char c : std::string(v.c_str())) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    return dxnet::trimmed(out);
}

/// What sending a file needs to know before the association: its SOP class, instance and syntax.
struct Planned {
    std::string sopClass, sop, syntax, error;
};

Planned plan(const char *path) {
    Planned p;
    DcmFileFormat file;
    OFCondition c = file.loadFile(path, EXS_Unknown, EGL_noChange, 64, ERM_autoDetect);
    if (c.bad()) {
        p.error = std::string("not a readable DICOM file: ") + c.text();
        return p;
    }
    p.sopClass = text(file.getDataset(), DCM_SOPClassUID);
    p.sop = text(file.getDataset(), DCM_SOPInstanceUID);
    p.syntax = DcmXfer(file.getDataset()->getOriginalXfer()).getXferID();
    if (p.sopClass.empty() || p.sop.empty()) p.error = "no SOP Class UID or SOP Instance UID";
    return p;
}

bool isUncompressed(const std::string &ts) {
    return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax;
}

}  // namespace

int dx_echo(const dx_peer *peer, char *err, size_t errlen) {
    DcmSCU scu;
    configure(scu, peer);
    scu.addPresentationContext(UID_VerificationSOPClass, uncompressed());
    if (!open(scu, peer, err, errlen)) return 0;
    OFCondition c = scu.sendECHORequest(0);
    if (c.bad()) {
        say(err, errlen, "C-ECHO to " + peerName(peer) + " failed: " + c.text());
        scu.abortAssociation();
        return 0;
    }
    scu.releaseAssociation();
    return 1;
}

int dx_send_files(const dx_peer *peer, const char *const *paths, int count, dx_send_result *results, char *err,
                  size_t errlen) {
    std::vector<Planned> planned;
    for (int i = 0; i < count; ++i) {
        planned.push_back(plan(paths[i]));
        dx_send_result &r = results[i];
        std::memset(&r, 0, sizeof r);
        std::snprintf(r.sop_instance_uid, sizeof r.sop_instance_uid, "%s", planned.back().sop.c_str());
        std::snprintf(r.message, sizeof r.message, "%s", planned.back().error.c_str());
    }
    // Files go out in groups whose presentation contexts fit one association (128 at most): per SOP
    // class, one context with Explicit/Implicit VR Little Endian, and one per other transfer syntax.
    int first = 0, anySent = 0;
    std::string lastError;
    while (first < count) {
        std::set<std::pair<std::string, std::string>> contexts;
        int last = first;
        for (; last < count; ++last) {
            const Planned &p = planned[last];
            if (!p.error.empty()) continue;
            std::set<std::pair<std::string, std::string>> more = contexts;
            more.insert({p.sopClass, ""});
            if (!isUncompressed(p.syntax)) more.insert({p.sopClass, p.syntax});
            if (more.size() > 120) break;
            contexts = std::move(more);
        }
        if (last == first) ++last;   // (cannot happen: one file needs two contexts)
        DcmSCU scu;
        configure(scu, peer);
        for (const auto &c : contexts) {
            if (c.second.empty()) {
                scu.addPresentationContext(c.first.c_str(), uncompressed());
            } else {
                OFList<OFString> ts;
                ts.push_back(c.second.c_str());
                scu.addPresentationContext(c.first.c_str(), ts);
            }
        }
        char reason[512] = {0};
        const bool opened = !contexts.empty() && open(scu, peer, reason, sizeof reason);
        for (int i = first; i < last; ++i) {
            const Planned &p = planned[i];
            dx_send_result &r = results[i];
            if (!p.error.empty()) continue;
            if (!opened) {
                std::snprintf(r.message, sizeof r.message, "%s", reason);
                lastError = reason;
                continue;
            }
            if (!scu.isConnected()) {
                std::snprintf(r.message, sizeof r.message, "the association with %s ended before this file", peerName(peer).c_str());
                continue;
            }
            std::string syntax = p.syntax;
            T_ASC_PresentationContextID id = scu.findPresentationContextID(p.sopClass.c_str(), p.syntax.c_str());
            if (id == 0) id = scu.findPresentationContextID(p.sopClass.c_str(), (syntax = UID_LittleEndianExplicitTransferSyntax).c_str());
            if (id == 0) id = scu.findPresentationContextID(p.sopClass.c_str(), (syntax = UID_LittleEndianImplicitTransferSyntax).c_str());
            if (id == 0) {
                std::snprintf(r.message, sizeof r.message, "%s accepted no presentation context for SOP class %s",
                              peerName(peer).c_str(), p.sopClass.c_str());
                continue;
            }
            std::snprintf(r.transfer_syntax, sizeof r.transfer_syntax, "%s", syntax.c_str());
            Uint16 status = 0;
            OFCondition c = scu.sendSTORERequest(id, paths[i], nullptr, status);
            r.status = status;
            if (c.bad()) {
                std::snprintf(r.message, sizeof r.message, "C-STORE failed: %s", c.text());
                continue;
            }
            // Success 0x0000, warnings 0xB000, 0xB007, 0xB006; anything else a failure.
            if (status == 0x0000 || (status & 0xF000) == 0xB000) {
                r.sent = 1;
                ++anySent;
                if (status != 0) std::snprintf(r.message, sizeof r.message, "stored with warning status 0x%04X", status);
            } else {
                std::snprintf(r.message, sizeof r.message, "%s refused it: status 0x%04X", peerName(peer).c_str(), status);
            }
        }
        if (opened && scu.isConnected()) scu.releaseAssociation();
        first = last;
    }
    (void)anySent;
    if (!lastError.empty() && anySent == 0) {
        say(err, errlen, lastError);
        return 0;
    }
    return 1;
}

int dx_find_studies(const dx_peer *peer, const dx_study_query *query, char **rows, char *err, size_t errlen) {
    *rows = nullptr;
    DcmSCU scu;
    configure(scu, peer);
    scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, uncompressed());
    if (!open(scu, peer, err, errlen)) return -1;
    T_ASC_PresentationContextID id = scu.findAnyPresentationContextID(UID_FINDStudyRootQueryRetrieveInformationModel, "");
    if (id == 0) {
        say(err, errlen, peerName(peer) + " does not offer Study Root C-FIND");
        scu.releaseAssociation();
        return -1;
    }
    DcmDataset keys;
    keys.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
    keys.putAndInsertString(DCM_StudyInstanceUID, query->study_instance_uid ? query->study_instance_uid : "");
    keys.putAndInsertString(DCM_StudyDate, query->study_date ? query->study_date : "");
    keys.putAndInsertString(DCM_StudyTime, "");
    keys.putAndInsertString(DCM_AccessionNumber, query->accession_number ? query->accession_number : "");
    keys.putAndInsertString(DCM_PatientID, query->patient_id ? query->patient_id : "");
    keys.putAndInsertString(DCM_ModalitiesInStudy, query->modality ? query->modality : "");
    keys.putAndInsertString(DCM_StudyDescription, "");
    keys.putAndInsertString(DCM_NumberOfStudyRelatedSeries, "");
    keys.putAndInsertString(DCM_NumberOfStudyRelatedInstances, "");
    OFList<QRResponse *> responses;
    OFCondition c = scu.sendFINDRequest(id, &keys, &responses);
    std::string out;
    int matches = 0;
    Uint16 finalStatus = 0xFFFF;
    for (QRResponse *r : responses) {
        finalStatus = r->m_status;
        if (r->m_dataset != nullptr && (r->m_status == 0xFF00 || r->m_status == 0xFF01)) {
            DcmDataset *d = r->m_dataset;
            const DcmTagKey tags[] = {DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_AccessionNumber,
                                      DCM_PatientID, DCM_ModalitiesInStudy, DCM_StudyDescription,
                                      DCM_NumberOfStudyRelatedSeries, DCM_NumberOfStudyRelatedInstances};
            for (size_t t = 0; t < sizeof tags / sizeof tags[0]; ++t) {
                if (t > 0) out += '\t';
                out += text(d, tags[t]);
            }
            out += '\n';
            ++matches;
        }
        delete r;
    }
    if (c.bad() || (finalStatus != 0x0000)) {
        say(err, errlen, "C-FIND at " + peerName(peer) + " failed: " +
                             (c.bad() ? std::string(c.text()) : "final status " + dxnet::hex(finalStatus)));
        if (scu.isConnected()) scu.abortAssociation();
        return -1;
    }
    scu.releaseAssociation();
    *rows = static_cast<char *>(std::malloc(out.size() + 1));
    std::memcpy(*rows, out.c_str(), out.size() + 1);
    return matches;
}

int dx_move_study(const dx_peer *peer, const char *study_instance_uid, const char *destination_ae, int *completed,
                  int *failed, int *warning, char *err, size_t errlen) {
    *completed = *failed = *warning = 0;
    DcmSCU scu;
    configure(scu, peer);
    scu.addPresentationContext(UID_MOVEStudyRootQueryRetrieveInformationModel, uncompressed());
    if (!open(scu, peer, err, errlen)) return 0;
    T_ASC_PresentationContextID id = scu.findAnyPresentationContextID(UID_MOVEStudyRootQueryRetrieveInformationModel, "");
    if (id == 0) {
        say(err, errlen, peerName(peer) + " does not offer Study Root C-MOVE");
        scu.releaseAssociation();
        return 0;
    }
    DcmDataset keys;
    keys.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
    keys.putAndInsertString(DCM_StudyInstanceUID, study_instance_uid);
    OFList<RetrieveResponse *> responses;
    OFCondition c = scu.sendMOVERequest(id, destination_ae, &keys, &responses);
    Uint16 finalStatus = 0xFFFF;
    for (RetrieveResponse *r : responses) {
        finalStatus = r->m_status;
        *completed = r->m_numberOfCompletedSubops;
        *failed = r->m_numberOfFailedSubops;
        *warning = r->m_numberOfWarningSubops;
        delete r;
    }
    if (scu.isConnected()) scu.releaseAssociation();
    if (c.bad()) {
        say(err, errlen, "C-MOVE from " + peerName(peer) + " failed: " + c.text());
        return 0;
    }
    if (finalStatus != 0x0000 && finalStatus != 0xB000) {
        std::string why = finalStatus == 0xA801 ? " (the PACS does not know our AE title as a move destination)" : "";
        say(err, errlen, "C-MOVE from " + peerName(peer) + " ended with status " + dxnet::hex(finalStatus) + why);
        return 0;
    }
    return 1;
}

void dx_net_free(void *p) { std::free(p); }
