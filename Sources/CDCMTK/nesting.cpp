// nesting.cpp — how deeply a file's sequences nest, found before DCMTK parses it.
//
// DCMTK reads nested sequences recursively: a file of sequences nested 50,000 deep (a few hundred
// kilobytes) overflows a thread's stack and kills the process. This walks the element stream
// iteratively — tags, VRs and lengths only, values skipped — with a stack of open containers, and
// stops as soon as the nesting passes the limit. It understands explicit and implicit VR little
// endian, explicit VR big endian and deflated data (zlib, raw deflate after the meta header); an
// UN value or an implicit-VR value that starts with an item tag is walked as a sequence, as DCMTK
// would read it. Anything it cannot follow (a length past the end, an unknown encoding) ends the
// walk without a verdict: DCMTK then reports the damage itself.
#include "dxdcm.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <zlib.h>

namespace {

/// Bytes of the file in order, from disk or inflated; `skip` and `read` fail at the end.
struct Source {
    FILE *file = nullptr;
    bool deflated = false;
    z_stream zs{};
    unsigned char input[1 << 15];
    uint64_t position = 0;

    ~Source() {
        if (deflated) inflateEnd(&zs);
        if (file) std::fclose(file);
    }

    bool read(void *out, size_t n) {
        if (!deflated) {
            if (std::fread(out, 1, n, file) != n) return false;
            position += n;
            return true;
        }
        zs.next_out = static_cast<unsigned char *>(out);
        zs.avail_out = static_cast<uInt>(n);
        while (zs.avail_out > 0) {
            if (zs.avail_in == 0) {
                size_t got = std::fread(input, 1, sizeof input, file);
                if (got == 0) return false;
                zs.next_in = input;
                zs.avail_in = static_cast<uInt>(got);
            }
            int rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) return false;
            if (rc == Z_STREAM_END && zs.avail_out > 0) return false;
        }
        position += n;
        return true;
    }

    bool skip(uint64_t n) {
        if (!deflated) {
            if (std::fseek(file, static_cast<long>(n), SEEK_CUR) != 0) return false;
            position += n;
            return true;
        }
        unsigned char sink[1 << 14];
        while (n > 0) {
            size_t step = n > sizeof sink ? sizeof sink : static_cast<size_t>(n);
            if (!read(sink, step)) return false;
            n -= step;
        }
        return true;
    }
};

enum class Encoding { explicitLE, implicitLE, explicitBE };

struct Container {
    uint64_t end;     // UINT64_MAX: undefined length, closed by a delimiter
    bool fragments;   // encapsulated pixel data: its items hold bytes, not datasets
    Encoding encoding;
};

uint16_t u16(const unsigned char *p, bool big) { return big ? (p[0] << 8 | p[1]) : (p[0] | p[1] << 8); }
uint32_t u32(const unsigned char *p, bool big) {
    return big ? (uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3])
               : (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
}

bool longLengthVR(const char *vr) {
    static const char *const longs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char *l : longs) if (vr[0] == l[0] && vr[1] == l[1]) return true;
    return false;
}

bool isVR(const unsigned char *p) { return p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z'; }

const uint32_t undefined = 0xFFFFFFFFu;

/// Reads the meta header (explicit VR little endian) if there is one and returns the dataset's
/// transfer syntax UID ("" when unknown); leaves `src` at the dataset's first byte.
std::string meta(Source &src, FILE *f) {
    unsigned char head[132];
    std::string syntax;
    bool preamble = std::fread(head, 1, 132, f) == 132 && std::memcmp(head + 128, "DICM", 4) == 0;
    std::fseek(f, preamble ? 132 : 0, SEEK_SET);
    src.position = preamble ? 132 : 0;
    for (;;) {
        unsigned char e[8];
        long at = std::ftell(f);
        if (std::fread(e, 1, 8, f) != 8 || u16(e, false) != 0x0002 || !isVR(e + 4)) {
            std::fseek(f, at, SEEK_SET);
            src.position = static_cast<uint64_t>(at);
            return syntax;
        }
        uint32_t length = u16(e + 6, false);
        if (longLengthVR(reinterpret_cast<const char *>(e + 4))) {
            unsigned char l[4];
            if (std::fread(l, 1, 4, f) != 4) return syntax;
            length = u32(l, false);
        }
        if (length == undefined || length > (1u << 20)) return syntax;
        std::string value(length, '\0');
        if (length > 0 && std::fread(&value[0], 1, length, f) != length) return syntax;
        if (u16(e + 2, false) == 0x0010) syntax = std::string(value.c_str());
    }
}

}  // namespace

int dx_check_nesting(const char *path, int limit, char *err, size_t errlen) {
    Source src;
    src.file = std::fopen(path, "rb");
    if (src.file == nullptr) return 1;  // DCMTK says why
    const std::string syntax = meta(src, src.file);
    Encoding encoding = Encoding::explicitLE;
    if (syntax == "1.2.840.10008.1.2") encoding = Encoding::implicitLE;
    else if (syntax == "1.2.840.10008.1.2.2") encoding = Encoding::explicitBE;
    else if (syntax == "1.2.840.10008.1.2.1.99") {
        if (inflateInit2(&src.zs, -MAX_WBITS) != Z_OK) return 1;
        src.deflated = true;
    } else if (syntax.empty()) {
        // No meta header: look at the first element, as DCMTK does, to tell implicit from explicit.
        long at = std::ftell(src.file);
        unsigned char e[6];
        if (std::fread(e, 1, 6, src.file) != 6) return 1;
        std::fseek(src.file, at, SEEK_SET);
        if (!isVR(e + 4)) encoding = Encoding::implicitLE;
        else if (e[0] == 0x00 && e[1] != 0x00) encoding = Encoding::explicitBE;
    }

    std::vector<Container> open;
    for (;;) {
        while (!open.empty() && open.back().end != UINT64_MAX && src.position >= open.back().end) open.pop_back();
        const Encoding enc = open.empty() ? encoding : open.back().encoding;
        const bool big = enc == Encoding::explicitBE;
        unsigned char e[8];
        if (!src.read(e, 4)) return 1;
        const uint16_t group = u16(e, big), element = u16(e + 2, big);
        if (group == 0xFFFE) {
            unsigned char l[4];
            if (!src.read(l, 4)) return 1;
            const uint32_t length = u32(l, big);
            if (element == 0xE000) {  // item
                if (!open.empty() && open.back().fragments) {
                    if (length == undefined || !src.skip(length)) return 1;
                    continue;
                }
                open.push_back({length == undefined ? UINT64_MAX : src.position + length, false, enc});
            } else if (!open.empty()) {  // item or sequence delimiter
                open.pop_back();
            }
        } else {
            uint32_t length;
            bool sequence = false;
            if (enc == Encoding::implicitLE) {
                if (!src.read(e + 4, 4)) return 1;
                length = u32(e + 4, false);
            } else {
                if (!src.read(e + 4, 4)) return 1;
                if (!isVR(e + 4)) return 1;  // lost track: let DCMTK judge
                const char vr[2] = {char(e[4]), char(e[5])};
                if (longLengthVR(vr)) {
                    unsigned char l[4];
                    if (!src.read(l, 4)) return 1;
                    length = u32(l, big);
                } else {
                    length = u16(e + 6, big);
                }
                sequence = vr[0] == 'S' && vr[1] == 'Q';
                if (vr[0] == 'U' && vr[1] == 'N' && length != undefined && length >= 8) {
                    // DCMTK reads an UN value whose tag is a sequence as implicit VR little endian: peek.
                    unsigned char peek[4];
                    if (!src.read(peek, 4)) return 1;
                    if (u16(peek, false) == 0xFFFE && u16(peek + 2, false) == 0xE000) {
                        open.push_back({src.position - 4 + length, false, Encoding::implicitLE});
                        open.push_back({UINT64_MAX, false, Encoding::implicitLE});  // the item just read
                        unsigned char l[4];
                        if (!src.read(l, 4)) return 1;
                        const uint32_t itemLength = u32(l, false);
                        open.back().end = itemLength == undefined ? UINT64_MAX : src.position + itemLength;
                        if (static_cast<int>(open.size()) > limit) break;
                        continue;
                    }
                    if (!src.skip(length - 4)) return 1;
                    continue;
                }
            }
            const bool pixels = group == 0x7FE0 && element == 0x0010;
            if (length == undefined) {
                open.push_back({UINT64_MAX, pixels, enc == Encoding::explicitBE ? enc : (sequence || pixels ? enc : Encoding::implicitLE)});
            } else if (sequence) {
                open.push_back({src.position + length, false, enc});
            } else if (enc == Encoding::implicitLE && length >= 8 && !pixels) {
                unsigned char peek[4];
                if (!src.read(peek, 4)) return 1;
                if (u16(peek, false) == 0xFFFE && u16(peek + 2, false) == 0xE000) {
                    open.push_back({src.position - 4 + length, false, enc});
                    unsigned char l[4];
                    if (!src.read(l, 4)) return 1;
                    const uint32_t itemLength = u32(l, false);
                    open.push_back({itemLength == undefined ? UINT64_MAX : src.position + itemLength, false, enc});
                } else if (!src.skip(length - 4)) {
                    return 1;
                }
            } else if (!src.skip(length)) {
                return 1;
            }
        }
        if (static_cast<int>(open.size()) > limit) break;
    }
    std::snprintf(err, errlen, "sequences nested more than %d deep (refused before parsing: it would exhaust the stack)", limit / 2);
    return 0;
}
