// Package feature turns parsed probes into the fixed-layout images the
// per-service classifiers read, as the ScannerGrouper paper does (§3.4,
// App. F; ../shared/docs/reference-impl.md §2):
//
//   - a Schema says, per service and field, how a field is encoded (option,
//     string or int) and how an option field is cut into items;
//   - field statistics (coverage, distinct values, mutual information with the
//     organisation label, adjusted mutual information) rank the fields and
//     Select picks the encoded ones, the paper's way or the improved default;
//   - a Layout places the selected fields on a square canvas and encodes a
//     probe into pixels; it is versioned, saved as JSON, and only ever grows
//     by appending pixels, so a model trained on last week's layout still
//     reads this week's images;
//   - Dedup collapses the heavily repeated encodings of real scanner traffic
//     into unique rows with counts.
package feature
