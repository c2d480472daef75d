//go:build !linux

package transport

func setTOS(fd, tos int) {}
