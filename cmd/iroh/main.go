// Command iroh is iroh-go's single binary: pipes and TCP forwarding between
// endpoints (pipe), keys and tickets (key, id, ticket), and the services
// (relay, dns-server) plus blob transfer (send, receive, blobs) as they land.
//
// Each subcommand lives in its own file and registers itself in init with
// register; main only calls run and turns its error into one line on stderr
// and a non-zero exit code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand of the iroh binary.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name. It returns
	// errUsage (possibly wrapped) for bad arguments.
	run func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what a command may touch of the process: its streams and the
// environment lookup (tests replace all of them).
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions of the command files.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("iroh: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line arguments (exit code 2).
var errUsage = errors.New("usage")

// usageError wraps a message as a usage error.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, os.Args[1:], env)
	stop()
	os.Exit(exitCode(err, env.stderr))
}

// exitCode prints err as one line and returns the process exit code.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "iroh: %s\n", strings.TrimPrefix(err.Error(), "usage: "))
		fmt.Fprintln(stderr, "run 'iroh help' for the list of commands")
		return 2
	default:
		fmt.Fprintf(stderr, "iroh: %v\n", err)
		return 1
	}
}

// run dispatches args (without the program name) to a subcommand.
func run(ctx context.Context, args []string, env *cmdEnv) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(env.stdout)
		if len(args) == 0 {
			return usageError("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		return usageError("unknown command %q", args[0])
	}
	return c.run(ctx, env, args[1:])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "iroh: dial endpoints by public key over authenticated QUIC")
	fmt.Fprintln(w, "\nusage: iroh COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'iroh COMMAND -h' for the flags of a command")
}

// newFlagSet returns a flag set for a subcommand that reports errors instead
// of exiting and prints its usage to stderr.
func newFlagSet(env *cmdEnv, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("iroh "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: iroh %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs, allowing flags after positional
// arguments ("iroh pipe connect TICKET -v"); "--" ends flag parsing. It
// returns the positional arguments. A parse error becomes a usage error.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
