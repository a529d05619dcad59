"""A misbehaving DICOM peer for the SCP fault tests (issue 16), in plain sockets.

  --case abort    associates, sends a C-STORE command and half a dataset, then aborts (A-ABORT)
  --case garbage  associates, sends a C-STORE whose dataset is not DICOM, prints the status answered
  --case unknown-class  proposes a SOP class no one knows, prints the presentation context's result
Exit 0 when the SCP behaved (garbage: a failure status came back; abort: the abort went out;
unknown-class: the context was refused).
"""
import argparse
import socket
import struct
import sys

SC = "1.2.840.10008.5.1.4.1.1.7"
IMPLICIT = "1.2.840.10008.1.2"


def uid(text):
    b = text.encode()
    return b + (b"\0" if len(b) % 2 else b"")


def item(kind, payload):
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def associate_rq(called, calling, abstract=SC):
    pc = item(0x30, abstract.encode()) + item(0x40, IMPLICIT.encode())
    body = struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode() + bytes(32)
    body += item(0x10, b"1.2.840.10008.3.1.1.1")
    body += item(0x20, bytes([1, 0, 0, 0]) + pc)
    body += item(0x50, item(0x51, struct.pack(">I", 16384)))
    return struct.pack(">BBI", 1, 0, len(body)) + body


def element(group, elem, value):
    return struct.pack("<HHI", group, elem, len(value)) + value


def command(sop):
    rest = element(0, 0x0002, uid(SC)) + element(0, 0x0100, struct.pack("<H", 1)) + element(0, 0x0110, struct.pack("<H", 7))
    rest += element(0, 0x0700, struct.pack("<H", 0)) + element(0, 0x0800, struct.pack("<H", 0)) + element(0, 0x1000, uid(sop))
    return element(0, 0, struct.pack("<I", len(rest))) + rest


def pdata(control, payload):
    pdv = struct.pack(">IBB", len(payload) + 2, 1, control) + payload
    return struct.pack(">BBI", 4, 0, len(pdv)) + pdv


def read_pdu(s):
    head = b""
    while len(head) < 6:
        chunk = s.recv(6 - len(head))
        if not chunk:
            raise EOFError("connection closed")
        head += chunk
    kind, _, length = struct.unpack(">BBI", head)
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            raise EOFError("connection closed")
        body += chunk
    return kind, body


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--called", default="DXKIT")
    p.add_argument("--calling", default="FAULTPEER")
    p.add_argument("--case", choices=["abort", "garbage", "unknown-class"], required=True)
    a = p.parse_args()
    s = socket.create_connection((a.host, a.port), timeout=30)
    unknown = "1.2.826.0.1.3680043.10.1234.99"
    s.sendall(associate_rq(a.called, a.calling, unknown if a.case == "unknown-class" else SC))
    kind, body = read_pdu(s)
    if kind != 2:
        print(f"association not accepted (PDU type {kind})")
        return 1
    if a.case == "unknown-class":
        i, result = 68, None
        while i + 4 <= len(body):
            t, _, n = struct.unpack(">BBH", body[i:i + 4])
            if t == 0x21:
                result = body[i + 6]
            i += 4 + n
        print(f"presentation context result {result}")
        s.sendall(struct.pack(">BBI", 5, 0, 4) + bytes(4))
        try:
            read_pdu(s)
        except (EOFError, OSError):
            pass
        s.close()
        return 0 if result not in (None, 0) else 1
    sop = "1.2.826.0.1.3680043.10.1234.7.1"
    s.sendall(pdata(0x03, command(sop)))
    if a.case == "abort":
        s.sendall(pdata(0x00, element(0x0008, 0x0016, uid(SC)) + b"\x08\x00\x18\x00" + struct.pack("<I", 4000) + b"1.2."))
        s.sendall(struct.pack(">BBIBBBB", 7, 0, 4, 0, 0, 0, 0))
        s.close()
        print("aborted mid-transfer")
        return 0
    s.sendall(pdata(0x02, b"this is not a DICOM dataset at all\0\0"))
    kind, body = read_pdu(s)
    if kind != 4:
        print(f"no response (PDU type {kind})")
        return 1
    data = body[6:]
    status = None
    i = 0
    while i + 8 <= len(data):
        group, elem, length = struct.unpack("<HHI", data[i:i + 8])
        if (group, elem) == (0, 0x0900):
            status = struct.unpack("<H", data[i + 8:i + 10])[0]
        i += 8 + length
    print(f"status 0x{status:04X}" if status is not None else "no status")
    s.sendall(struct.pack(">BBI", 5, 0, 4) + bytes(4))  # A-RELEASE-RQ
    try:
        read_pdu(s)
    except (EOFError, OSError):
        pass
    s.close()
    return 0 if status is not None and status != 0 and (status & 0xF000) != 0xB000 else 1


if __name__ == "__main__":
    sys.exit(main())
