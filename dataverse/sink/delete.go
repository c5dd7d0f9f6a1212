package sink

import (
	"context"

	"github.com/dvsync/dvsync/dataverse"
)

// Delete removes the record key addresses, for jobs that carry deletes
// (`dvsync sync`). A record that is already gone is no change
// (OutcomeUnchanged), so a delete re-sent after a lost response, or a
// record created and deleted between two runs, is never a reject. A
// refusal of the record itself (Classify: reject) is returned as
// OutcomeRejected with the error; anything else stops the run.
// Source: webapi/update-delete-entities-using-web-api.md ("Basic delete":
// DELETE returns 204, or 404 when the record does not exist).
func (s *Sink) Delete(ctx context.Context, table string, key dataverse.Key) (dataverse.Result, error) {
	err := s.c.Delete(ctx, table, key, nil)
	switch {
	case err == nil:
		return dataverse.Result{Outcome: dataverse.OutcomeWritten}, nil
	case dataverse.IsNotFound(err):
		return dataverse.Result{Outcome: dataverse.OutcomeUnchanged}, nil
	case dataverse.Classify(err).StopsRun():
		return dataverse.Result{}, err
	default:
		return dataverse.Result{Outcome: dataverse.OutcomeRejected, Err: err}, nil
	}
}
