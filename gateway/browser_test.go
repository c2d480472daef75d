package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs/store/fs"
)

// chromeFlags are the flags the headless browser runs with.
var chromeFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"}

// webDriver is a session of chromedriver (the W3C WebDriver protocol over
// HTTP) driving headless Chromium.
type webDriver struct {
	t       *testing.T
	base    string
	session string
}

func findChromium(t *testing.T) (browser, driver string) {
	t.Helper()
	var err1, err2 error
	browser, err1 = exec.LookPath("chromium")
	driver, err2 = exec.LookPath("chromedriver")
	if err1 != nil || err2 != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("chromium and chromedriver must be installed (scripts/test.sh installs them as root): %v %v", err1, err2)
		}
		t.Skipf("chromium or chromedriver not installed and not root to install them: %v %v", err1, err2)
	}
	return browser, driver
}

func startBrowser(t *testing.T, downloadDir string) *webDriver {
	t.Helper()
	browser, driver := findChromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	wd := &webDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := webDriverClient.Get(wd.base + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	args := append(append([]string{}, chromeFlags...), "--user-data-dir="+t.TempDir())
	var created struct {
		SessionID string `json:"sessionId"`
	}
	wd.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": browser,
			"args":   args,
			"prefs": map[string]any{
				"download.default_directory":   downloadDir,
				"download.prompt_for_download": false,
			},
		},
	}}}, &created)
	wd.session = created.SessionID
	t.Cleanup(func() { wd.call("DELETE", "/session/"+wd.session, nil, nil) })
	return wd
}

// webDriverClient bounds each WebDriver command, so that a stuck browser
// fails the test rather than hanging it.
var webDriverClient = &http.Client{Timeout: 60 * time.Second}

// call sends one WebDriver command and decodes its "value" into out.
func (wd *webDriver) call(method, path string, body any, out any) {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, wd.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := webDriverClient.Do(req)
	if err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		wd.t.Fatalf("webdriver %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		var v struct{ Value json.RawMessage }
		if err := json.Unmarshal(raw, &v); err != nil {
			wd.t.Fatal(err)
		}
		if err := json.Unmarshal(v.Value, out); err != nil {
			wd.t.Fatalf("webdriver %s: %v in %s", path, err, v.Value)
		}
	}
}

func (wd *webDriver) navigate(url string) {
	wd.t.Helper()
	wd.call("POST", "/session/"+wd.session+"/url", map[string]any{"url": url}, nil)
}

// eval runs a script (a function body) in the page and decodes its result.
func (wd *webDriver) eval(script string, out any) {
	wd.t.Helper()
	wd.call("POST", "/session/"+wd.session+"/execute/sync", map[string]any{"script": script, "args": []any{}}, out)
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBrowser drives headless Chromium against the gateway: a collection's
// listing renders, an image blob shows in a page of the collection, and a
// 200 MB blob downloads intact.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dir := t.TempDir()
	st, err := fs.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files := map[string][]byte{
		"site/index.html":  []byte(`<!DOCTYPE html><html><body><h1>hi</h1><img id="pic" src="img/pic.png"></body></html>`),
		"site/img/pic.png": testPNG(t),
		"site/notes.txt":   []byte("some notes"),
		"site/docs/a.json": []byte(`{"a":1}`),
	}
	c := addCollection(t, st, files)
	root := c.Root().Hash

	// A 200 MB blob, written to a file first (not held in memory).
	const bigSize = 200 << 20
	bigPath := filepath.Join(dir, "big.bin")
	f, err := os.Create(bigPath)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	chunk := randBytes(1 << 20)
	for i := range bigSize >> 20 {
		chunk[0] = byte(i)
		f.Write(chunk)
		want.Write(chunk)
	}
	f.Close()
	tt, err := st.AddFile(t.Context(), bigPath)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	os.Remove(bigPath)
	big := tt.HashAndFormat().Hash

	srv, _ := serve(t, st, nil)
	downloads := filepath.Join(dir, "downloads")
	os.MkdirAll(downloads, 0o755)
	wd := startBrowser(t, downloads)

	t.Run("listing", func(t *testing.T) {
		wd.navigate(srv.URL + "/collection/" + root.String() + "/site/")
		var rows []string
		wd.eval(`return Array.from(document.querySelectorAll("tr.entry a")).map(a => a.textContent)`, &rows)
		if strings.Join(rows, ",") != "docs/,img/,index.html,notes.txt" {
			t.Errorf("listing rows %q", rows)
		}
		var rootText string
		wd.eval(`return document.getElementById("root").textContent`, &rootText)
		if rootText != root.String() {
			t.Errorf("listing root %q", rootText)
		}
	})
	t.Run("image", func(t *testing.T) {
		wd.navigate(srv.URL + "/collection/" + root.String() + "/site/index.html")
		var dims []int
		deadline := time.Now().Add(10 * time.Second)
		for {
			wd.eval(`const i = document.getElementById("pic"); return i && i.complete ? [i.naturalWidth, i.naturalHeight] : [0, 0]`, &dims)
			if dims[0] != 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if dims[0] != 40 || dims[1] != 30 {
			t.Errorf("image shows as %v, want 40x30", dims)
		}
	})
	t.Run("download 200MB", func(t *testing.T) {
		wd.navigate(srv.URL + "/blob/" + big.String() + "?download=true&filename=big.bin")
		path := filepath.Join(downloads, "big.bin")
		deadline := time.Now().Add(60 * time.Second)
		for {
			if fi, err := os.Stat(path); err == nil && fi.Size() == bigSize {
				break
			}
			if time.Now().After(deadline) {
				ents, _ := os.ReadDir(downloads)
				t.Fatalf("download did not arrive: %v", ents)
			}
			time.Sleep(100 * time.Millisecond)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := sha256.New()
		io.Copy(got, f)
		if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("downloaded file differs from the blob")
		}
	})
}
