import Common

/// A failure of DICOM networking, naming the peer (`AE@host:port`, or a DICOMweb URL) and the reason.
public typealias NetworkError = FileFailure<NetworkDomain>
public enum NetworkDomain {}
