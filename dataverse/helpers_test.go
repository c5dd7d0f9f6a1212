package dataverse_test

import (
	"net/http/httptest"
	"runtime"
	"time"

	"github.com/dvsync/dvsync/dataverse/schema"
)

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func runtimeGosched() { runtime.Gosched(); time.Sleep(time.Millisecond) }

func emptyRegistry() *schema.Registry { return schema.NewRegistry() }
