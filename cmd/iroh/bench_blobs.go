package main

import "context"

func runBlobsBench(ctx context.Context, env *cmdEnv, args []string) error {
	return usageError("blobs bench: not implemented yet")
}
