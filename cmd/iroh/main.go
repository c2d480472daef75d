package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// command is one command of the iroh binary, or a subcommand of one.
type command struct {
	// name is the word that selects it ("pipe", or "listen" under pipe).
	name string
	// summary is the one line shown in the parent's listing.
	summary string
	// usage is the synopsis after "iroh NAME " (for example
	// "[flags] TICKET"); several lines are several forms.
	usage string
	// help is a paragraph (or more) saying what the command does.
	help string
	// example is one or more command lines, shown under "example:".
	example string
	// subs are the subcommands; a command with subcommands either
	// dispatches itself in run or leaves run nil to have run dispatch to
	// the subcommand's run.
	subs []*command
	// run executes the command with the arguments after its name. It
	// returns errUsage (possibly wrapped) for bad arguments. For a
	// subcommand it may be nil when the parent's run dispatches.
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

// register adds a command; called from init functions of the command files.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("iroh: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// lookupCommand finds the command at path ("pipe listen").
func lookupCommand(path string) *command {
	words := strings.Fields(path)
	if len(words) == 0 {
		return nil
	}
	c := commands[words[0]]
	for _, w := range words[1:] {
		if c == nil {
			return nil
		}
		c = c.sub(w)
	}
	return c
}

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// runsAlone reports whether the command does something of its own when no
// subcommand is named (like relay, unlike pipe): it has a run and every
// subcommand has its own.
func (c *command) runsAlone() bool {
	if c.run == nil {
		return false
	}
	for _, s := range c.subs {
		if s.run == nil {
			return false
		}
	}
	return true
}

func (c *command) subNames() string {
	names := make([]string, len(c.subs))
	for i, s := range c.subs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// errUsage marks an error caused by bad command-line arguments (exit code 2).
var errUsage = errors.New("usage")

// usageError wraps a message as a usage error.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// cmdError is an error of the command at path; exitCode prints it as
// "iroh PATH: cause".
type cmdError struct {
	path string
	err  error
}

func (e *cmdError) Error() string { return e.path + ": " + e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, os.Args[1:], env)
	stop()
	os.Exit(exitCode(err, env.stderr))
}

// exitCode prints err as one line and returns the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	path := ""
	var ce *cmdError
	if errors.As(err, &ce) {
		path, err = ce.path, ce.err
	}
	msg := errorLine(path, err)
	prefix := "iroh"
	if path != "" {
		prefix += " " + path
	}
	if errors.Is(err, errUsage) {
		hint := "iroh help"
		if path != "" {
			hint += " " + path
		}
		fmt.Fprintf(stderr, "%s: %s (see '%s')\n", prefix, msg, hint)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
	return 1
}

// errorLine renders err as one line without the prefixes the command name
// already gives: "usage: ", "iroh: ", and the command's own name.
func errorLine(path string, err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	words := strings.Fields(path)
	for {
		before := msg
		msg = strings.TrimPrefix(msg, "usage: ")
		msg = strings.TrimPrefix(msg, "iroh: ")
		for i := len(words); i > 0; i-- {
			msg = strings.TrimPrefix(msg, strings.Join(words[:i], " ")+": ")
		}
		if msg == before {
			break
		}
	}
	return msg
}

// isHelpArg reports whether a is a request for help.
func isHelpArg(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// run dispatches args (without the program name) to a command.
func run(ctx context.Context, args []string, env *cmdEnv) error {
	if len(args) == 0 {
		printHelp(env.stderr)
		return usageError("no command given")
	}
	switch a := args[0]; {
	case isHelpArg(a):
		printHelp(env.stdout)
		return nil
	case a == "help":
		return runHelp(ctx, env, args[1:])
	case a == "--version" || a == "-version" || a == "version":
		fmt.Fprintln(env.stdout, versionLine())
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			return usageError("unknown flag %s before the command", args[0])
		}
		return usageError("unknown command %q", args[0])
	}
	path := c.name
	rest := args[1:]
	if len(c.subs) > 0 {
		// Flags may come before the subcommand ("blobs --data-dir D list").
		for i, a := range rest {
			if !strings.HasPrefix(a, "-") && c.sub(a) != nil {
				if i > 0 {
					rest = append(append([]string{a}, rest[:i]...), rest[i+1:]...)
				}
				break
			}
		}
		var s *command
		if len(rest) > 0 {
			s = c.sub(rest[0])
		}
		switch {
		case s != nil:
			path += " " + s.name
			if s.run != nil {
				c, rest = s, rest[1:]
			}
		case c.runsAlone():
			// "relay" serves; "relay bench" is a subcommand.
		case len(rest) == 0:
			return &cmdError{path, usageError("missing subcommand (%s)", c.subNames())}
		case isHelpArg(rest[0]):
			printCommandHelp(env.stdout, path, c, nil)
			return nil
		default:
			return &cmdError{path, usageError("unknown subcommand %q (want %s)", rest[0], c.subNames())}
		}
	}
	if err := c.run(ctx, env, rest); err != nil {
		return &cmdError{path, err}
	}
	return nil
}

// runHelp is 'iroh help [CMD [SUB]]'.
func runHelp(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 {
		printHelp(env.stdout)
		return nil
	}
	c := lookupCommand(strings.Join(args, " "))
	if c == nil {
		return &cmdError{"help", usageError("no command %q", strings.Join(args, " "))}
	}
	if len(c.subs) > 0 && !c.runsAlone() {
		printCommandHelp(env.stdout, strings.Join(args, " "), c, nil)
		return nil
	}
	// A leaf: its flag set prints the help with the flags.
	err := run(ctx, append(slicesClone(args), "-h"), env)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "iroh: dial endpoints by public key over authenticated QUIC, and move files and streams between them")
	fmt.Fprintln(w, "\nusage: iroh COMMAND [SUBCOMMAND] [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\n'iroh help COMMAND' (or 'iroh COMMAND -h') shows a command's usage, an example and its flags;")
	fmt.Fprintln(w, "'iroh --version' the version.")
}

// printCommandHelp writes the help of the command at path: usage, text,
// subcommands, example, and the flags of fs (if any).
func printCommandHelp(w io.Writer, path string, c *command, fs *flag.FlagSet) {
	for i, u := range strings.Split(c.usage, "\n") {
		lead := "usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%siroh %s %s\n", lead, path, u)
	}
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	if len(c.subs) > 0 {
		fmt.Fprintln(w, "\nsubcommands:")
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\n'iroh help %s SUBCOMMAND' shows a subcommand's usage, example and flags.\n", path)
	}
	if c.example != "" {
		fmt.Fprintln(w, "\nexample:")
		for _, l := range strings.Split(strings.TrimSpace(c.example), "\n") {
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(l))
		}
	}
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
}

// commit is the VCS commit, for builds without Go's VCS stamping (such as
// -buildvcs=false or a git worktree): go build -ldflags "-X main.commit=$(git rev-parse HEAD)".
var commit string

// versionLine is what --version prints: the module version and the VCS
// commit the binary was built from.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "iroh (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		case "vcs.time":
			when = s.Value
		}
	}
	if rev == "" {
		rev = commit
	}
	if rev == "" {
		rev = "unknown"
	}
	line := fmt.Sprintf("iroh %s %s commit %s%s", bi.Main.Path, v, rev, modified)
	if when != "" {
		line += " (" + when + ")"
	}
	return line + " " + bi.GoVersion
}

// newFlagSet returns the flag set of the command at path ("pipe listen"),
// registered with register. Errors are returned, not printed; -h prints
// the command's help with these flags to stdout.
func newFlagSet(env *cmdEnv, path string) *flag.FlagSet {
	c := lookupCommand(path)
	if c == nil {
		panic("iroh: newFlagSet for unregistered command " + path)
	}
	fs := flag.NewFlagSet("iroh "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The flag package calls Usage on every parse error too; parseFlags
	// prints the help only for -h.
	fs.Usage = func() {}
	helpPrinters.Store(fs, func() { printCommandHelp(env.stdout, path, c, fs) })
	return fs
}

// helpPrinters maps a flag set made by newFlagSet to its help printer.
var helpPrinters sync.Map // *flag.FlagSet -> func()

// parseFlags parses args into fs, allowing flags after positional
// arguments ("iroh pipe connect TICKET -v"); "--" ends flag parsing. It
// returns the positional arguments. A parse error becomes a usage error;
// -h returns flag.ErrHelp after printing the help.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if p, ok := helpPrinters.LoadAndDelete(fs); ok {
					p.(func())()
				}
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
