package feature

import (
	"crypto/sha256"
	"encoding/hex"
)

// ImageKey identifies an encoded image by its contents: the SHA-256 of its
// bytes. It is the project's one notion of "the same encoded image": Dedup,
// the training rows, the background set and the payload-sender evidence
// all key images by it, and saved models persist it as hex (String) in
// their manifests and evidence.json. (The classifier's in-memory
// prediction cache keys by a faster per-process hash of its own.)
type ImageKey [32]byte

// KeyOf returns the identity of an encoded image.
func KeyOf(img []uint8) ImageKey { return sha256.Sum256(img) }

// String is the key as saved: 64 lowercase hex digits.
func (k ImageKey) String() string { return hex.EncodeToString(k[:]) }

// ParseImageKey reads a saved key (String's form; upper-case digits are
// accepted too).
func ParseImageKey(s string) (ImageKey, bool) {
	var k ImageKey
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != len(k) {
		return k, false
	}
	copy(k[:], raw)
	return k, true
}
