//go:build !unix

package docs

import "time"

func processCPU() time.Duration { return 0 }
