package output

import (
	"io"
	"log/slog"
)

// Logger is a logger writing to w at info level with -v, silent otherwise.
func Logger(w io.Writer, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
