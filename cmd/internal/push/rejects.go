package push

import (
	"encoding/json"
	"errors"
	"os"
	"sync"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// rejection is one line of the rejects file.
type rejection struct {
	Line   int64           `json:"line"`
	Error  rejectionError  `json:"error"`
	Record json.RawMessage `json:"record,omitempty"`
}

type rejectionError struct {
	Status    int    `json:"status,omitempty"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}

func describe(err error) rejectionError {
	var re *dataverse.ResponseError
	if errors.As(err, &re) {
		return rejectionError{Status: re.StatusCode, Code: re.Code, Message: re.Message, RequestID: re.RequestID}
	}
	return rejectionError{Message: err.Error()}
}

// rejectsFile is created on the first rejection, with the file mode of
// every report and data file (reportstyle.FileMode less the umask).
type rejectsFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	enc  *json.Encoder
	err  error
}

func (r *rejectsFile) add(rej rejection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if r.f == nil {
		r.f, r.err = reportstyle.Create(r.path)
		if r.err != nil {
			return
		}
		r.enc = json.NewEncoder(r.f)
		r.enc.SetEscapeHTML(false)
	}
	r.err = r.enc.Encode(rej)
}

func (r *rejectsFile) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		if err := r.f.Close(); err != nil && r.err == nil {
			r.err = err
		}
	}
	return r.err
}

// discard closes and removes the file: the push stopped before sending,
// so the rejects of the lines before do not describe a run.
func (r *rejectsFile) discard() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		os.Remove(r.path)
		r.f = nil
	}
}
