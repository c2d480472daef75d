package blobs_test

import "fmt"

var fmtSscanf = fmt.Sscanf
