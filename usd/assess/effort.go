package assess

import "github.com/dvsync/dvsync/usd"

// baseHours are planning estimates per kind for automatic, partial and
// manual verdicts. They are deliberately coarse: automatic is review time,
// partial is finishing what dvsync wrote, manual is a rebuild.
var baseHours = map[usd.Kind][3]float64{
	usd.KindHostedControl:  {0.25, 1, 4},
	usd.KindAction:         {0, 0.5, 1},
	usd.KindActionCall:     {0.1, 0.5, 1},
	usd.KindEvent:          {0, 1, 2},
	usd.KindNavigationRule: {0.25, 1, 2},
	usd.KindAgentScript:    {0.25, 1, 3},
	usd.KindAnswer:         {0.1, 0.5, 1},
	usd.KindSessionLine:    {0.1, 0.5, 1},
	usd.KindToolbar:        {0.25, 0.5, 1},
	usd.KindToolbarButton:  {0.25, 1, 1.5},
	usd.KindEntitySearch:   {0.25, 1, 2},
	usd.KindScriptlet:      {0.5, 1, 2},
	usd.KindForm:           {0.5, 1, 3},
	usd.KindOption:         {0.1, 0.5, 0.5},
	usd.KindConfiguration:  {0.25, 1, 2},
}

// customCodeHours override the manual estimate for hosted controls that
// are code rather than configuration.
var customCodeHours = map[string]float64{
	usd.USDHostedControl.String():     16,
	usd.CCAHostedApplication.String(): 16,
	usd.CTIDesktopManager.String():    24,
}

// Effort returns the estimated hours for an assessed item. A component
// without an equivalent costs nothing: there is nothing to build.
func Effort(it Item) float64 {
	if it.Verdict == NoEquivalent {
		return 0
	}
	if it.Kind == usd.KindHostedControl && it.Verdict == Manual {
		if h, ok := customCodeHours[it.Detail]; ok {
			return h
		}
	}
	b := baseHours[it.Kind]
	switch it.Verdict {
	case Automatic:
		return b[0]
	case Partial:
		return b[1]
	}
	return b[2]
}
