package main

import (
	"fmt"
	"io"
	"time"

	"github.com/iroh-go/iroh/blobs"
)

// progressLine shows a download's progress on one line of stderr, redrawn
// at most every 100 ms. Its rate is the one the summary uses: bytes fetched
// in this download over the time since it started (resumed data counts in
// the percentage, never in the rate), so the two never disagree.
type progressLine struct {
	w     io.Writer
	quiet bool
	drawn time.Time
	shown bool
	last  blobs.DownloadProgress
}

func newProgressLine(w io.Writer, quiet bool) *progressLine {
	return &progressLine{w: w, quiet: quiet}
}

// update is the downloader's OnProgress callback.
func (p *progressLine) update(dp blobs.DownloadProgress) {
	p.last = dp
	if p.quiet || dp.Total == 0 {
		return
	}
	if now := time.Now(); dp.Done || now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw()
	}
}

func (p *progressLine) draw() {
	dp := p.last
	pct := 100 * float64(dp.Local) / float64(max(dp.Total, 1))
	if dp.Local < dp.Total {
		pct = min(pct, 99.9)
	}
	fmt.Fprintf(p.w, "\rreceiving %5.1f%% %s / %s, %s/s  ", pct, fmtBytes(dp.Local), fmtBytes(dp.Total), fmtBytes(rate(dp.Fetched, dp.Elapsed)))
	p.shown = true
}

// end draws the final state (never more than what was verified) and ends
// the line.
func (p *progressLine) end() {
	if p.quiet {
		return
	}
	if p.last.Total > 0 {
		p.draw()
	}
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
