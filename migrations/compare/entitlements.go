package compare

import (
	"iter"
	"sort"
	"time"
)

// Entitlement is a Dataverse entitlement as the report needs it.
type Entitlement struct {
	Name, Customer   string
	Total, Remaining float64
	End              time.Time
	Active           bool
}

// EntitlementSummary is the Dataverse entitlement use, as the Customer
// Service entitlement reports present it: who is near depletion, what
// expires soon, and the average use per customer.
type EntitlementSummary struct {
	Active int64 `json:"active"`
	// NearDepletion are active entitlements with at most 20% of their
	// terms left.
	NearDepletion []EntitlementUse `json:"nearDepletion"`
	// Expiring are active entitlements ending within 30 days.
	Expiring []EntitlementUse `json:"expiring"`
	// AverageUsePerCustomer is the mean of terms used per customer.
	AverageUsePerCustomer float64 `json:"averageUsePerCustomer"`
	Customers             int64   `json:"customers"`
	Method                string  `json:"method"`
}

// EntitlementUse is one entitlement in a list.
type EntitlementUse struct {
	Name      string  `json:"name"`
	Customer  string  `json:"customer"`
	Total     float64 `json:"total"`
	Remaining float64 `json:"remaining"`
	End       string  `json:"end,omitempty"`
}

// Near-depletion and expiry thresholds.
const (
	DepletionFraction = 0.2
	ExpiryWindow      = 30 * 24 * time.Hour
)

// SummariseEntitlements reads the entitlements once; the per-customer
// totals are a map because customers with entitlements are few next to
// cases, and only active entitlements count.
func SummariseEntitlements(seq iter.Seq2[Entitlement, error], now time.Time, method string) (*EntitlementSummary, error) {
	s := &EntitlementSummary{Method: method}
	used := map[string]float64{}
	for en, err := range seq {
		if err != nil {
			return nil, err
		}
		if !en.Active {
			continue
		}
		s.Active++
		u := EntitlementUse{Name: en.Name, Customer: en.Customer, Total: en.Total, Remaining: en.Remaining}
		if !en.End.IsZero() {
			u.End = en.End.UTC().Format("2006-01-02")
		}
		used[en.Customer] += en.Total - en.Remaining
		if en.Total > 0 && en.Remaining <= DepletionFraction*en.Total {
			s.NearDepletion = append(s.NearDepletion, u)
		}
		if !en.End.IsZero() && !en.End.Before(now) && en.End.Sub(now) <= ExpiryWindow {
			s.Expiring = append(s.Expiring, u)
		}
	}
	var sum float64
	for _, v := range used {
		sum += v
	}
	s.Customers = int64(len(used))
	if len(used) > 0 {
		s.AverageUsePerCustomer = sum / float64(len(used))
	}
	sort.Slice(s.NearDepletion, func(i, j int) bool {
		a, b := s.NearDepletion[i], s.NearDepletion[j]
		return a.Remaining/a.Total < b.Remaining/b.Total
	})
	sort.Slice(s.Expiring, func(i, j int) bool { return s.Expiring[i].End < s.Expiring[j].End })
	return s, nil
}
