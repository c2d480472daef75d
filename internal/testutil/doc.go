// Package testutil holds helpers shared by iroh-go's tests: locating the
// shared spec vectors and interop harness, and goroutine-leak checks. It is
// imported only from _test.go files.
package testutil
