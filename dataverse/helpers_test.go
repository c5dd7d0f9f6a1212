package dataverse_test

import (
	"net/http/httptest"
	"runtime"
	"time"
)

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func runtimeGosched() { runtime.Gosched(); time.Sleep(time.Millisecond) }
