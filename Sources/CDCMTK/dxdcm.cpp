// dxdcm.cpp — implementation of the plain C interface in dxdcm.h over DCMTK.
#include "dxdcm.h"

#include <cstdlib>
#include <malloc.h>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

struct dx_file {
    DcmFileFormat format;
    DcmFileCache cache;
    Uint32 nextFragment = 0;   // DCMTK's start fragment hint for the next frame
    Uint32 lastFrame = 0;
    bool hasMeta = false;
};

static void copy_text(char *buf, size_t len, const char *text) {
    if (buf == nullptr || len == 0) return;
    std::strncpy(buf, text ? text : "", len - 1);
    buf[len - 1] = '\0';
}

static void copy_text(char *buf, size_t len, const std::string &text) { copy_text(buf, len, text.c_str()); }

void dx_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void dx_init(void) {
    static std::once_flag once;
    std::call_once(once, [] {
        // Quiet DCMTK's own logger: errors reach the caller as return values.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        // Elements written with VR UN but known to the dictionary get their real VR.
        dcmEnableUnknownVRConversion.set(OFTrue);
        DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_never, EPC_colorByPixel);
        DJLSDecoderRegistration::registerCodecs(EJLSUC_never, EJLSPC_colorByPixel);
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

dx_file *dx_open(const char *path, uint32_t max_read_length, char *err, size_t errlen) {
    dx_init();
    // DCMTK parses nested sequences recursively: refuse what would overflow the stack (256 levels).
    if (dx_check_nesting(path, 512, err, errlen) == 0) return nullptr;
    dx_file *file = new dx_file();
    OFCondition cond = file->format.loadFile(path, EXS_Unknown, EGL_noChange, max_read_length, ERM_autoDetect);
    if (cond.bad()) {
        copy_text(err, errlen, cond.text());
        delete file;
        return nullptr;
    }
    // Strings reach Swift as UTF-8 whatever the Specific Character Set.
    OFString charset;
    if (file->format.getDataset()->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() &&
        !charset.empty() && charset != "ISO_IR 192") {
        (void)file->format.convertToUTF8();
    }
    DcmMetaInfo *meta = file->format.getMetaInfo();
    file->hasMeta = meta != nullptr && meta->card() > 0;
    return file;
}

void dx_close(dx_file *file) { delete file; }

int dx_has_meta(dx_file *file) { return file->hasMeta ? 1 : 0; }

int dx_transfer_syntax(dx_file *file, char *buf, size_t buflen) {
    DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
    copy_text(buf, buflen, xfer.getXferID());
    return 1;
}

static DcmItem *walk(dx_file *file, const uint32_t *tags, const uint32_t *items, int depth) {
    DcmItem *item = file->format.getDataset();
    for (int i = 0; i < depth - 1; ++i) {
        DcmTagKey key(static_cast<Uint16>(tags[i] >> 16), static_cast<Uint16>(tags[i] & 0xffff));
        DcmItem *next = nullptr;
        if (item->findAndGetSequenceItem(key, next, static_cast<signed long>(items[i])).bad() || next == nullptr)
            return nullptr;
        item = next;
    }
    return item;
}

const dx_elem *dx_find(dx_file *file, const uint32_t *tags, const uint32_t *items, int depth) {
    if (depth < 1) return nullptr;
    const uint32_t last = tags[depth - 1];
    DcmTagKey key(static_cast<Uint16>(last >> 16), static_cast<Uint16>(last & 0xffff));
    DcmItem *item = nullptr;
    if (depth == 1 && key.getGroup() == 0x0002) {
        item = file->format.getMetaInfo();
    } else {
        item = walk(file, tags, items, depth);
    }
    if (item == nullptr) return nullptr;
    DcmElement *elem = nullptr;
    if (item->findAndGetElement(key, elem, OFFalse).bad() || elem == nullptr) return nullptr;
    return reinterpret_cast<const dx_elem *>(elem);
}

int dx_sequence_count(dx_file *file, const uint32_t *tags, const uint32_t *items, int depth) {
    DcmItem *item = walk(file, tags, items, depth);
    if (item == nullptr) return 0;
    const uint32_t last = tags[depth - 1];
    DcmSequenceOfItems *seq = nullptr;
    if (item->findAndGetSequence(DcmTagKey(last >> 16, last & 0xffff), seq).bad() || seq == nullptr) return 0;
    return static_cast<int>(seq->card());
}

static DcmElement *E(const dx_elem *e) { return reinterpret_cast<DcmElement *>(const_cast<dx_elem *>(e)); }

unsigned long dx_elem_vm(const dx_elem *elem) { return E(elem)->getVM(); }

const char *dx_elem_vr(const dx_elem *elem) { return DcmVR(E(elem)->ident()).getVRName(); }

uint32_t dx_elem_length(const dx_elem *elem) { return E(elem)->getLength(); }

long dx_elem_string(const dx_elem *elem, char *buf, size_t buflen) {
    OFString value;
    if (E(elem)->getOFStringArray(value).bad()) return -1;
    copy_text(buf, buflen, value.c_str());
    return static_cast<long>(value.length());
}

int dx_elem_double(const dx_elem *elem, unsigned long pos, double *out) {
    DcmElement *e = E(elem);
    if (pos >= e->getVM()) return 0;
    switch (e->ident()) {
    case EVR_US: { Uint16 v; if (e->getUint16(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_SS: { Sint16 v; if (e->getSint16(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_UL: { Uint32 v; if (e->getUint32(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_SL: { Sint32 v; if (e->getSint32(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_FL: { Float32 v; if (e->getFloat32(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_FD: { Float64 v; if (e->getFloat64(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_DS: { Float64 v; if (e->getFloat64(v, pos).bad()) return 0; *out = v; return 1; }
    case EVR_IS: { Sint32 v; if (e->getSint32(v, pos).bad()) return 0; *out = v; return 1; }
    default: {
        OFString s;
        if (e->getOFString(s, pos).bad()) return 0;
        char *end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str()) return 0;
        *out = v;
        return 1;
    }
    }
}

int dx_elem_words(const dx_elem *elem, const uint16_t **data, unsigned long *count) {
    DcmElement *e = E(elem);
    if (e->ident() == EVR_SS) {
        Sint16 *p = nullptr;
        if (e->getSint16Array(p).bad() || p == nullptr) return 0;
        *data = reinterpret_cast<const uint16_t *>(p);
    } else {
        Uint16 *p = nullptr;
        if (e->getUint16Array(p).bad() || p == nullptr) return 0;
        *data = p;
    }
    *count = e->getLength() / 2;
    return 1;
}

int dx_elem_bytes(const dx_elem *elem, const uint8_t **data, unsigned long *count) {
    Uint8 *p = nullptr;
    DcmElement *e = E(elem);
    if (e->getUint8Array(p).bad() || p == nullptr) return 0;
    *data = p;
    *count = e->getLength();
    return 1;
}

static DcmPixelData *pixel_data(dx_file *file) {
    DcmElement *elem = nullptr;
    if (file->format.getDataset()->findAndGetElement(DCM_PixelData, elem).bad() || elem == nullptr) return nullptr;
    if (elem->ident() != EVR_PixelData) return nullptr;
    return static_cast<DcmPixelData *>(elem);
}

static DcmPixelSequence *pixel_sequence(dx_file *file) {
    DcmPixelData *pd = pixel_data(file);
    if (pd == nullptr) return nullptr;
    E_TransferSyntax xfer = file->format.getDataset()->getOriginalXfer();
    if (!DcmXfer(xfer).isEncapsulated()) return nullptr;
    DcmPixelSequence *seq = nullptr;
    if (pd->getEncapsulatedRepresentation(xfer, nullptr, seq).bad()) return nullptr;
    return seq;
}

int dx_pixel_encapsulated(dx_file *file) { return pixel_sequence(file) != nullptr ? 1 : 0; }

long dx_pixel_native_length(dx_file *file) {
    DcmPixelData *pd = pixel_data(file);
    if (pd == nullptr || pixel_sequence(file) != nullptr) return -1;
    return static_cast<long>(pd->getLength());
}

long dx_pixel_fragment_count(dx_file *file) {
    DcmPixelSequence *seq = pixel_sequence(file);
    if (seq == nullptr) return -1;
    return seq->card() > 0 ? static_cast<long>(seq->card()) - 1 : 0;
}

int dx_frame_size(dx_file *file, uint32_t *size, char *err, size_t errlen) {
    DcmPixelData *pd = pixel_data(file);
    if (pd == nullptr) { copy_text(err, errlen, "no Pixel Data (7FE0,0010)"); return 0; }
    Uint32 s = 0;
    OFCondition cond = pd->getUncompressedFrameSize(file->format.getDataset(), s);
    if (cond.bad()) { copy_text(err, errlen, cond.text()); return 0; }
    *size = s;
    return 1;
}

int dx_decode_frame(dx_file *file, uint32_t frame, void *buf, uint32_t bufsize,
                    char *color_model, size_t cmlen, int *planar, char *err, size_t errlen) {
    DcmPixelData *pd = pixel_data(file);
    if (pd == nullptr) { copy_text(err, errlen, "no Pixel Data (7FE0,0010)"); return 0; }
    DcmDataset *ds = file->format.getDataset();
    // DCMTK's fragment hint is valid only when frames are read in order.
    Uint32 start = (frame == file->lastFrame + 1) ? file->nextFragment : 0;
    if (frame == 0) start = 0;
    OFString model;
    OFCondition cond = pd->getUncompressedFrame(ds, frame, start, buf, bufsize, model, &file->cache);
    if (cond.bad()) { copy_text(err, errlen, cond.text()); return 0; }
    file->nextFragment = start;
    file->lastFrame = frame;
    copy_text(color_model, cmlen, model.c_str());
    Uint16 pc = 0;
    *planar = ds->findAndGetUint16(DCM_PlanarConfiguration, pc).good() ? pc : 0;
    return 1;
}

// Groups fragments into frames: one frame takes them all; one fragment per frame;
// the Basic Offset Table when present; otherwise a new frame starts at each fragment
// that begins with a JPEG 2000 (FF4F) or JPEG (FFD8) start-of-codestream marker.
int dx_encapsulated_frame(dx_file *file, uint32_t frame, uint32_t frames,
                          uint8_t **out, size_t *len, char *err, size_t errlen) {
    DcmPixelSequence *seq = pixel_sequence(file);
    if (seq == nullptr) { copy_text(err, errlen, "Pixel Data is not encapsulated"); return 0; }
    const unsigned long count = seq->card();
    if (count < 2) { copy_text(err, errlen, "encapsulated Pixel Data holds no fragments"); return 0; }
    std::vector<std::pair<const Uint8 *, Uint32>> fragments;
    for (unsigned long i = 1; i < count; ++i) {
        DcmPixelItem *item = nullptr;
        if (seq->getItem(item, i).bad() || item == nullptr) { copy_text(err, errlen, "unreadable fragment"); return 0; }
        Uint8 *p = nullptr;
        if (item->getLength() > 0 && (item->getUint8Array(p).bad() || p == nullptr)) {
            copy_text(err, errlen, "fragment data could not be read (truncated file?)");
            return 0;
        }
        fragments.emplace_back(p, item->getLength());
    }
    std::vector<size_t> starts;  // index of the first fragment of each frame
    if (frames <= 1) {
        starts.push_back(0);
    } else if (fragments.size() == frames) {
        for (size_t i = 0; i < frames; ++i) starts.push_back(i);
    } else {
        DcmPixelItem *bot = nullptr;
        Uint8 *p = nullptr;
        if (seq->getItem(bot, 0).good() && bot->getLength() >= 4 * frames && bot->getUint8Array(p).good() && p) {
            std::vector<Uint32> offsets(frames);
            for (uint32_t f = 0; f < frames; ++f)
                offsets[f] = p[4 * f] | (p[4 * f + 1] << 8) | (p[4 * f + 2] << 16) | (static_cast<Uint32>(p[4 * f + 3]) << 24);
            size_t pos = 0, fi = 0;
            for (uint32_t f = 0; f < frames; ++f) {
                while (fi < fragments.size() && pos < offsets[f]) { pos += fragments[fi].second + 8; ++fi; }
                starts.push_back(fi);
            }
        } else {
            for (size_t i = 0; i < fragments.size(); ++i) {
                const Uint8 *d = fragments[i].first;
                if (fragments[i].second >= 2 && d[0] == 0xFF && (d[1] == 0x4F || d[1] == 0xD8)) starts.push_back(i);
            }
        }
    }
    if (frame >= starts.size()) {
        copy_text(err, errlen, "frame " + std::to_string(frame) + " not found among " +
                                   std::to_string(fragments.size()) + " fragments");
        return 0;
    }
    const size_t first = starts[frame];
    const size_t end = frame + 1 < starts.size() ? starts[frame + 1] : fragments.size();
    size_t total = 0;
    for (size_t i = first; i < end; ++i) total += fragments[i].second;
    uint8_t *data = static_cast<uint8_t *>(std::malloc(total > 0 ? total : 1));
    size_t at = 0;
    for (size_t i = first; i < end; ++i) {
        if (fragments[i].second) std::memcpy(data + at, fragments[i].first, fragments[i].second);
        at += fragments[i].second;
    }
    *out = data;
    *len = total;
    return 1;
}

void dx_free(void *p) { std::free(p); }

int dx_dicomdir_count(dx_file *file) {
    DcmSequenceOfItems *seq = nullptr;
    if (file->format.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, seq).bad() || seq == nullptr) return 0;
    return static_cast<int>(seq->card());
}

long dx_dicomdir_file(dx_file *file, int index, char *buf, size_t buflen) {
    DcmItem *item = nullptr;
    if (file->format.getDataset()->findAndGetSequenceItem(DCM_DirectoryRecordSequence, item, index).bad() || !item)
        return -1;
    OFString value;
    if (item->findAndGetOFStringArray(DCM_ReferencedFileID, value).bad() || value.empty()) return -1;
    std::string path(value.c_str());
    for (char &c : path) if (c == '\\') c = '/';
    copy_text(buf, buflen, path);
    return static_cast<long>(path.length());
}
