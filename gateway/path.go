package gateway

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPathLen bounds the path inside a collection (names are rarely longer;
// the limit keeps hostile URLs cheap to reject).
const MaxPathLen = 4096

// splitFirst splits "a/b/c" into "a" and "b/c" (rest "" when there is no
// slash). hadSlash reports whether a slash followed the first segment.
func splitFirst(p string) (first, rest string, hadSlash bool) {
	i := strings.IndexByte(p, '/')
	if i < 0 {
		return p, "", false
	}
	return p[:i], p[i+1:], true
}

// ParsePath checks a path inside a collection as it appears in a URL after
// the collection's id: '/'-separated, relative, without empty, "." or ".."
// segments, backslashes or NUL, valid UTF-8, at most MaxPathLen bytes. A
// trailing slash is allowed (a directory); it is kept in the result. Paths
// are refused rather than cleaned, so no request can name something outside
// the collection.
func ParsePath(p string) (string, error) {
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("path: %d bytes exceeds max %d", len(p), MaxPathLen)
	}
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("path: not valid UTF-8")
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: empty segment at offset 0", p)
	}
	body := strings.TrimSuffix(p, "/")
	if body == "" {
		return "", nil
	}
	off := 0
	for _, seg := range strings.Split(body, "/") {
		switch {
		case seg == "":
			return "", fmt.Errorf("path %q: empty segment at offset %d", p, off)
		case seg == "." || seg == "..":
			return "", fmt.Errorf("path %q: segment %q at offset %d escapes the collection", p, seg, off)
		case strings.ContainsAny(seg, "\\\x00"):
			return "", fmt.Errorf("path %q: backslash or NUL in segment at offset %d", p, off)
		}
		off += len(seg) + 1
	}
	return p, nil
}
