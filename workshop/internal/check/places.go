package check

import "slices"

// Place is a function of a stage's code that a failing check points to.
type Place struct {
	File     string `json:"file"`               // in the stage module: "dice-roller/batch.go"
	Func     string `json:"function"`           // "rollBatch"
	Exercise string `json:"exercise,omitempty"` // the exercise of this stage that writes it, if any
}

func (p Place) String() string { return p.File + ", " + p.Func }

// place is a Place in every stage from first on; the exercise that writes
// it, if any, differs per stage.
type place struct {
	file, fn    string
	first, last int            // the stages that have it; last 0: every stage from first on
	exercises   map[int]string // stage → exercise id
}

// in is the place in stage n, false when the stage does not have it yet.
func (p *place) in(n int) (Place, bool) {
	if n < p.first || p.last > 0 && n > p.last {
		return Place{}, false
	}
	return Place{File: p.file, Func: p.fn, Exercise: p.exercises[n]}, true
}

// places lists every place, so tests can check that each exists.
var places []*place

func newPlace(file, fn string, first int, exercises map[int]string) *place {
	p := &place{file: file, fn: fn, first: first, exercises: exercises}
	places = append(places, p)
	return p
}

// until makes p a place of the stages up to last only (a function renamed
// in a later stage).
func (p *place) until(last int) *place {
	p.last = last
	return p
}

// The places checks point to. A function named twice is written by a
// different exercise in a stage (handleRoll: 1.3 its span, 1.5 its metrics).
var (
	pSDK           = newPlace("internal/telemetry/otel.go", "SetupOTelSDK", 1, map[int]string{1: "1.1"})
	pPropagator    = newPlace("internal/telemetry/otel.go", "SetupOTelSDK", 1, map[int]string{1: "1.1", 2: "2.3"})
	pTraceRequests = newPlace("internal/telemetry/http.go", "TraceRequests", 1, nil)
	pHTTPMetrics   = newPlace("internal/telemetry/http.go", "Middleware", 1, nil)
	pLogger        = newPlace("internal/telemetry/logger.go", "NewLogger", 1, nil)
	pLogHandler    = newPlace("internal/telemetry/logger.go", "Handle", 1, map[int]string{1: "1.6"})
	pShutdown      = newPlace("internal/service/service.go", "Run", 1, nil)
	pRollerRoutes  = newPlace("dice-roller/handlers.go", "routes", 1, nil)
	pRoll          = newPlace("dice-roller/handlers.go", "handleRoll", 1, map[int]string{1: "1.3"})
	pRollMetrics   = newPlace("dice-roller/handlers.go", "handleRoll", 1, map[int]string{1: "1.5"})
	pDiceMetrics   = newPlace("dice-roller/metrics.go", "newMetrics", 1, map[int]string{1: "1.5"})
	pServerLookup  = newPlace("dice-roller/handlers.go", "lookup", 1, nil).until(2)
	pResolveDie    = newPlace("dice-roller/handlers.go", "resolveDie", 3, map[int]string{3: "3.3"})

	pFrontendRoutes  = newPlace("frontend/handlers.go", "routes", 2, nil)
	pRelay           = newPlace("frontend/handlers.go", "relay", 2, map[int]string{2: "2.4"})
	pRelaySpan       = newPlace("frontend/handlers.go", "relay", 2, map[int]string{2: "2.2"})
	pCallDiceRoller  = newPlace("frontend/handlers.go", "callDiceRoller", 2, map[int]string{2: "2.2"})
	pFrontendGet     = newPlace("frontend/handlers.go", "get", 2, map[int]string{2: "2.2"})
	pHTTPClient      = newPlace("internal/telemetry/http.go", "NewHTTPClient", 2, map[int]string{2: "2.2"})
	pFrontendMetrics = newPlace("frontend/metrics.go", "newMetrics", 2, map[int]string{2: "2.4"})

	pDieServiceRoutes  = newPlace("die-service/handlers.go", "routes", 3, nil)
	pHandleDice        = newPlace("die-service/handlers.go", "handleDice", 3, map[int]string{3: "3.1"})
	pDieServiceMetrics = newPlace("die-service/metrics.go", "newMetrics", 3, map[int]string{3: "3.1"})
	pDieLookup         = newPlace("dice-roller/dice.go", "lookup", 3, map[int]string{3: "3.2"})
	pClassify          = newPlace("dice-roller/dice.go", "classify", 3, map[int]string{3: "3.2"})
	pLookupMetrics     = newPlace("dice-roller/metrics.go", "newMetrics", 3, map[int]string{3: "3.2"})
	pDieServiceClient  = newPlace("dice-roller/handlers.go", "newServer", 3, map[int]string{3: "3.4"})
	pDieFetch          = newPlace("dice-roller/dice.go", "fetch", 3, nil)
	pDiceListFetch     = newPlace("frontend/dice.go", "fetch", 3, map[int]string{3: "3.4"})

	pParseTimes       = newPlace("internal/service/service.go", "ParseTimes", 4, nil)
	pRollAsync        = newPlace("dice-roller/handlers.go", "handleRollAsync", 4, map[int]string{4: "4.3"})
	pRollAsyncMetrics = newPlace("dice-roller/handlers.go", "handleRollAsync", 4, map[int]string{4: "4.4"})
	pBatch            = newPlace("dice-roller/batch.go", "rollBatch", 4, map[int]string{4: "4.1"})
	pRollOne          = newPlace("dice-roller/batch.go", "rollOne", 4, map[int]string{4: "4.1"})
	pRollOneMetrics   = newPlace("dice-roller/batch.go", "rollOne", 4, map[int]string{4: "4.4"})
	pAsyncMetrics     = newPlace("dice-roller/metrics.go", "newMetrics", 4, map[int]string{4: "4.4"})
	pAsyncBornAtZero  = newPlace("dice-roller/metrics.go", "dieKnown", 4, map[int]string{4: "4.4"})
)

// routesOf is the routes func of a service, where its middleware is wired.
func routesOf(service string) *place {
	switch service {
	case "frontend":
		return pFrontendRoutes
	case "die-service":
		return pDieServiceRoutes
	}
	return pRollerRoutes
}

// resolve turns places into the Places of stage n, leaving out the ones the
// stage does not have and repeats.
func resolve(n int, ps []*place) []Place {
	var out []Place
	for _, p := range ps {
		if pl, ok := p.in(n); ok && !slices.Contains(out, pl) {
			out = append(out, pl)
		}
	}
	return out
}
