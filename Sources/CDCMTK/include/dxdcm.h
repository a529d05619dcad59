/* dxdcm.h — a plain C interface over DCMTK's dcmdata and its decompression codecs.
 *
 * Nothing C++ crosses this header. Every function that can fail writes a
 * human-readable reason (DCMTK's own condition text where there is one) into
 * the caller's `err` buffer. Handles are not shared between threads; separate
 * handles may be used on separate threads at once.
 */
#ifndef DXDCM_H
#define DXDCM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_file dx_file;
typedef struct dx_elem dx_elem;

/* Process setting for decoding large frames: glibc keeps freed blocks of any size in
 * its heap for reuse instead of unmapping them (avoids page faults on every frame). */
void dx_keep_freed_memory(void);

/* Registers the JPEG, JPEG-LS and RLE decoders once per process (thread-safe). */
void dx_init(void);

/* Walks the file's element stream without parsing values and returns 0 (with the reason in `err`)
 * when its sequences nest deeper than `limit` containers (a sequence and its item count two), 1
 * otherwise — also when the file cannot be followed, which the parser then reports. dx_open calls it. */
int dx_check_nesting(const char *path, int limit, char *err, size_t errlen);

/* Parses a DICOM file (with or without meta header). Element values longer than
 * `max_read_length` bytes stay on disk and are read when needed.
 * Returns NULL and fills `err` on failure. */
dx_file *dx_open(const char *path, uint32_t max_read_length, char *err, size_t errlen);
void dx_close(dx_file *file);

/* Transfer syntax UID the dataset was read with (original encoding). */
int dx_transfer_syntax(dx_file *file, char *buf, size_t buflen);
/* 1 when the file has a File Meta Information header (group 0002). */
int dx_has_meta(dx_file *file);

/* Finds an element by a path of `depth` tags (group<<16 | element); `items`
 * holds the item index in each sequence along the way (depth-1 entries).
 * Group 0002 tags at depth 1 are looked up in the meta header. NULL when absent. */
const dx_elem *dx_find(dx_file *file, const uint32_t *tags, const uint32_t *items, int depth);
/* Number of items in the sequence at the path, 0 if absent or not a sequence. */
int dx_sequence_count(dx_file *file, const uint32_t *tags, const uint32_t *items, int depth);

/* Value multiplicity of an element. */
unsigned long dx_elem_vm(const dx_elem *elem);
/* Two-letter VR of the element. */
const char *dx_elem_vr(const dx_elem *elem);
/* Length of the element's value in bytes as stored. */
uint32_t dx_elem_length(const dx_elem *elem);
/* Whole value as a string (multiple values separated by '\'); returns the
 * full length needed (may exceed buflen-1), or -1 on error. */
long dx_elem_string(const dx_elem *elem, char *buf, size_t buflen);
/* Numeric value `pos` of a numeric or numeric-string element (US, SS, UL, SL,
 * FL, FD, DS, IS). Returns 1 on success. */
int dx_elem_double(const dx_elem *elem, unsigned long pos, double *out);
/* Raw 16-bit words of an US/SS/OW element (host byte order). Pointer valid while the file is open. */
int dx_elem_words(const dx_elem *elem, const uint16_t **data, unsigned long *count);
/* Raw bytes of an OB/UN/OW element. Pointer valid while the file is open. */
int dx_elem_bytes(const dx_elem *elem, const uint8_t **data, unsigned long *count);

/* --- Pixel data -------------------------------------------------------- */

/* 1 when the Pixel Data (7FE0,0010) is encapsulated (compressed). */
int dx_pixel_encapsulated(dx_file *file);
/* Stored length of native Pixel Data in bytes, or -1 when encapsulated/absent. */
long dx_pixel_native_length(dx_file *file);
/* Number of fragments (excluding the basic offset table), -1 when not encapsulated. */
long dx_pixel_fragment_count(dx_file *file);

/* Size in bytes of one decompressed frame. */
int dx_frame_size(dx_file *file, uint32_t *size, char *err, size_t errlen);
/* Decodes one frame through DCMTK (native, RLE, JPEG, JPEG-LS) into `buf`
 * (little-endian samples, `bufsize` >= frame size rounded up to even).
 * `color_model` receives the photometric interpretation after decoding and
 * `planar` the planar configuration of the returned buffer. Returns 1 on success. */
int dx_decode_frame(dx_file *file, uint32_t frame, void *buf, uint32_t bufsize,
                    char *color_model, size_t cmlen, int *planar, char *err, size_t errlen);

/* The compressed bitstream of one frame (its fragments concatenated), for
 * codecs DCMTK lacks (JPEG 2000). `*out` is malloc'ed; free it with dx_free. */
int dx_encapsulated_frame(dx_file *file, uint32_t frame, uint32_t frames,
                          uint8_t **out, size_t *len, char *err, size_t errlen);
void dx_free(void *p);

/* Items of the Directory Record Sequence of a DICOMDIR: the i-th record's
 * Referenced File ID (components joined with '/'). Returns the record count. */
int dx_dicomdir_count(dx_file *file);
long dx_dicomdir_file(dx_file *file, int index, char *buf, size_t buflen);

/* --- DICOM Structured Report (TID 1500 Measurement Report) ------------- */

/* One finding of an AI head on one source image. */
typedef struct {
    const char *sop_class_uid;       /* of the source image */
    const char *sop_instance_uid;
    const char *series_instance_uid;
    const char *head;                /* e.g. "pneumonia", used in the tracking identifier */
    const char *tracking_uid;        /* the measurement group's Tracking Unique Identifier */
    const char *finding_code;        /* coded finding, e.g. 233604007 / SCT / Pneumonia */
    const char *finding_scheme;
    const char *finding_meaning;
    const char *decision_code;       /* the decision as a coded value of the finding, e.g. 52101004 / SCT / Present */
    const char *decision_scheme;
    const char *decision_meaning;
    double probability;
    double calibrated_probability;
    const char *algorithm_name;      /* TID 4019 */
    const char *algorithm_version;
    const char *algorithm_parameters;
    int heatmap_count;               /* 0-2 heatmap images (Secondary Capture) referenced as illustrations */
    const char *heatmap_sop_instance_uid[2];
    const char *heatmap_series_instance_uid;
} dx_sr_finding;

/* The SR document's own identity and the private coding schemes it uses. */
typedef struct {
    const char *series_instance_uid;
    const char *sop_instance_uid;
    int series_number;
    int instance_number;
    const char *device_observer_uid;
    const char *procedure_code;
    const char *procedure_scheme;
    const char *procedure_meaning;
    const char *software_version;
    int scheme_count;                /* Coding Scheme Identification Sequence items (private schemes) */
    const char *const *scheme_designators;
    const char *const *scheme_names;
    const char *const *scheme_organizations;
} dx_sr_document;

/* Writes a Comprehensive SR (TID 1500) for the findings of one study to `out_path`. Patient and
 * study modules are copied from `source_path` (an instance of that study) so that the SR files
 * into the same study. */
int dx_write_sr(const char *source_path, const char *out_path, const dx_sr_document *document,
                const dx_sr_finding *findings, int count, char *err, size_t errlen);

/* --- Secondary Capture (a heatmap overlay as a DICOM image in the study) -- */

typedef struct {
    const char *source_path;         /* patient and study modules copied from it */
    const char *out_path;
    const uint8_t *rgb;              /* width x height x 3, row-major, interleaved */
    int width;
    int height;
    const char *series_instance_uid;
    const char *sop_instance_uid;
    int series_number;
    int instance_number;
    const char *series_description;
    const char *derivation_description;
    const char *source_sop_class_uid;
    const char *source_sop_instance_uid;
    const char *software_version;
} dx_sc_image;

/* Writes an RGB Secondary Capture Image (Explicit VR Little Endian). 1 on success. */
int dx_write_secondary_capture(const dx_sc_image *image, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
