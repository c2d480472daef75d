package transport

import "golang.org/x/sys/unix"

func setTOS(fd, tos int) { unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos) }
