// Package feature turns parsed probes into the fixed-layout images the
// per-service classifiers read, as the ScannerGrouper paper does (§3.4,
// App. F; docs/paper-faithful.md §2):
//
//   - RuleFor says, per service and field, how a field is encoded (option,
//     string or int) and how an option field is cut into items;
//   - FieldStatistics (coverage, distinct values, mutual information with the
//     organisation label, adjusted mutual information) ranks the fields and
//     FieldTable.Select picks the encoded ones, the paper's way or the
//     improved default;
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
// HTTP (field names as the parser writes them: Method, Url, Version, Body and
// one field per header exactly as sent):
//
//	User-Agent (any case)        option, RFC 9110 product tokens, each with the
//	                             comments that follow it: a Chrome UA gives
//	                             "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
//	                             "AppleWebKit/537.36 (KHTML, like Gecko)",
//	                             "Chrome/120.0.0.0", "Safari/537.36"
//	Accept, Accept-Encoding,     option, items split on ',' and trimmed,
//	Accept-Language (any case)   parameters kept ("zh;q=0.9")
//	everything else              string, first 10 bytes
//
// TLS ClientHello:
//
//	handshake_ciphersuites, handshake_comp_methods, extensions,
//	extensions_hash_algs, extensions_supported_groups,
//	extensions_ec_point_formats, extensions_alpn,
//	extensions_supported_versions   option over Field.Items (one pixel per item)
//	tls_version, handshake_version,
//	ja3, ja3_md5, ja4                option, the whole value is one item
//	handshake_random_bytes, handshake_time, handshake_sessionid,
//	extensions_sni, anything else    string, first 10 bytes
//
// DNS: every header field is an int at its wire width, most significant bit
// first (id 16, qr 1, opcode 4, aa/tc/rd/ra/z/ad/cd 1 each, rcode 4, the four
// counts 16 each, qtype 16, qclass 16, edns 1); qname is a string of 32 bytes.
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
// 16×16 (DNS). Extend appends new option values after the last used pixel
// and never moves or removes one; values still under MinCount stay in
// Layout.Pending with their counts (the 4096 most frequent), so their
// sightings add up across weeks.
package feature
