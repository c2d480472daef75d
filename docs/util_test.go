package docs

import "errors"

func asAbort(err error, ae **AbortError) bool { return errors.As(err, ae) }
