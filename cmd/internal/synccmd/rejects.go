package synccmd

import (
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/migrations/reportstyle"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// rejectsFile is where a run appends its rejected records: --rejects, or
// <job name>.rejects.jsonl beside the job file.
func rejectsFile(o *options, job *syncjob.Job) *lazyFile {
	if o.rejects != "" {
		return &lazyFile{path: o.rejects}
	}
	return &lazyFile{path: filepath.Join(job.Dir, job.Name+".rejects.jsonl")}
}

// lazyFile creates its file on the first write, so a run without rejects
// leaves no empty rejects file behind, with the file mode of every report
// and data file (reportstyle.FileMode less the umask).
type lazyFile struct {
	path string
	f    *os.File
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil {
		f, err := reportstyle.OpenAppend(l.path)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *lazyFile) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

func (l *lazyFile) written() bool { return l.f != nil }
