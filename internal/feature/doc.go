// Package feature turns parsed probes into the fixed-layout images the
// per-service classifiers read, as the ScannerGrouper paper does (§3.4,
// App. F; docs/paper-faithful.md §2):
//
//   - RuleFor says, per service and field, how a field is encoded (option,
//     string or int) and how an option field is cut into items, as the
//     service declares it;
//   - FieldStatistics (coverage, distinct values, mutual information with the
//     organisation label, adjusted mutual information) ranks the fields and
//     FieldTable.Select picks the encoded ones, the paper's way or the
//     improved default; FieldStatisticsColumns counts per-connection fields
//     from a hash a probe, so that the rest of a probe is counted once per
//     distinct row;
//   - a Layout places the selected fields on a square canvas and encodes a
//     probe into pixels; it is versioned, saved as JSON, and only ever grows
//     by appending pixels, so a model trained on last week's layout still
//     reads this week's images;
//   - Dedup collapses the heavily repeated encodings of real scanner traffic
//     into unique rows with counts;
//   - ExportNPY writes images and metadata for numpy / PyTorch.
//
// # Field kinds and items
//
// Every protocol declares the rules of its own fields in its folder under
// internal/service (probe.Encoder), and this package reads them through the
// service registry without importing any protocol:
//
//	option   a set of items, one pixel per vocabulary item; the tokenizer
//	         says how a value is cut: whole (ja3, tls_version), product
//	         (a User-Agent's RFC 9110 product tokens, each with the comments
//	         that follow it), comma (Accept lists, parameters kept), items
//	         (the list the parser delimited: TLS cipher suites, groups)
//	string   the first Width bytes (default 10; the DNS qname 32)
//	int      Width bits, most significant first (the DNS header)
//
// A field its service does not name is a string of 10 bytes. A service may
// also fix fields every layout holds and a canvas side (DNS: its whole
// header, 16×16 in both modes).
//
// # The honeypot's own identity
//
// A field that may carry the sensor's own address or name (HTTP Host and
// Url, TLS SNI, DNS qname; the service marks it, probe.Identity) is encoded
// as the class of its value, never its bytes, in images and field
// statistics alike: TokenSensorIP when it is an IP literal (port and
// brackets allowed) equal to the probe's destination, TokenIP for another
// IP literal, TokenName for a name, N/A when absent. In a Url only the host
// of an absolute URL or a CONNECT target is classed and the path is kept; in
// a qname only the sensor's address spelt inside it (dotted, reversed as in
// in-addr.arpa or ip6.arpa, dashed, hex) is replaced, so version.bind stays
// version.bind. Two probes that differ only in the sensor they hit encode
// alike. The layout records which fields are classed, so a layout saved
// before keeps encoding bytes for the model that learnt them.
//
// A field the probe lacks is probe.NotAvailable: for an option field that is
// an item of its own (its pixel lights), for a string or int field all its
// pixels stay 0. A header sent twice contributes all its items (options) or
// its first value (strings, ints). At most 64 items are taken from one value.
//
// # Layout
//
// Fields are placed in byte order of their names (Accept, Accept-Encoding,
// Connection, Url, User-Agent, Version, as in the artifact), row-major from
// pixel 0. Option values seen in fewer than MinCount (10) probes are dropped;
// the rest are sorted by (probe count desc, value asc). If options and fixed
// pixels exceed MaxPixels (1024) the most frequent options are kept. The canvas
// is the smallest square that fits (full mode), 32×32 (incremental mode) or
// the side the service fixes (DNS: 16×16). Extend appends new option values
// after the last used pixel and never moves or removes one; values still
// under MinCount stay in Layout.Pending with their counts (the 4096 most
// frequent), so their sightings add up across weeks. A layout saved before
// its service renamed fields is renamed when loaded, pixels unchanged.
package feature
