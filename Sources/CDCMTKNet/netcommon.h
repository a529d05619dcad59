// netcommon.h — small helpers shared by the SCP and SCU halves of dxnet (C++ only, never in dxnet.h).
#ifndef DXNET_COMMON_H
#define DXNET_COMMON_H

#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dul.h"

namespace dxnet {

/// Once per process: a peer that closes its socket must not kill dxkit with SIGPIPE, and peers are
/// named by their numeric address (no reverse DNS lookup: faster, and what --allow compares).
inline void init() {
    static std::once_flag once;
    std::call_once(once, [] {
        std::signal(SIGPIPE, SIG_IGN);
        dcmDisableGethostbyaddr.set(OFTrue);
    });
}

/// Without leading and trailing spaces (DICOM pads AE titles and UIDs).
inline std::string trimmed(const std::string &s) {
    size_t b = s.find_first_not_of(" \0", 0, 2), e = s.find_last_not_of(" \0", std::string::npos, 2);
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// Peer-supplied text made safe for a log line: printable ASCII only, at most `limit` characters.
inline std::string printable(const std::string &s, size_t limit) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= limit) break;
        if (c == 0) break;
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

inline std::string hex(unsigned value) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%04X", value & 0xFFFF);
    return buffer;
}

/// A UID as PS3.5 9.1 has it: 1 to 64 characters, digits in components separated by single dots.
/// Only such UIDs become file names.
inline bool validUID(const std::string &s) {
    if (s.empty() || s.size() > 64 || s.front() == '.' || s.back() == '.') return false;
    char previous = '.';
    for (char c : s) {
        if (c == '.') {
            if (previous == '.') return false;
        } else if (c < '0' || c > '9') {
            return false;
        }
        previous = c;
    }
    return true;
}

}  // namespace dxnet

#endif
