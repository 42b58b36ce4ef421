// Command die-service answers the specification of each die: its faces and
// its error rate. The dice-roller asks it before every roll.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/go-o11y-workshop/kit/stages/stage3/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage3/internal/telemetry"
)

const (
	serviceName = "die-service"
	defaultPort = 8103
)

type config struct {
	port            int
	specsFile       string
	shutdownTimeout time.Duration
}

func loadConfig() (config, error) {
	var c config
	var err error
	if c.port, err = service.Port(defaultPort); err != nil {
		return c, err
	}
	if c.shutdownTimeout, err = service.Duration("SHUTDOWN_TIMEOUT", 10*time.Second); err != nil {
		return c, err
	}
	c.specsFile = os.Getenv("DIE_SPECS_FILE")
	return c, nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		service.ExitOnConfigError(serviceName, err)
	}
	catalog, err := loadCatalog(cfg.specsFile)
	if err != nil {
		service.ExitOnConfigError(serviceName, err)
	}

	logger := telemetry.NewLogger(os.Stdout, serviceName)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	shutdownOTel, err := telemetry.SetupOTelSDK(ctx, serviceName, logger)
	if err != nil {
		service.ExitOnConfigError(serviceName, err)
	}
	tel := telemetry.New(logger, otel.GetTracerProvider(), otel.GetTextMapPropagator())
	srv := newServer(catalog, tel)

	logger.Info("die-service started", "port", cfg.port, "dice_loaded", len(catalog),
		"identifiers", catalog.Identifiers())
	addr := service.ListenAddr(cfg.port)
	if err := service.Run(ctx, addr, srv.routes(), logger, cfg.shutdownTimeout, shutdownOTel); err != nil {
		logger.Error("die-service stopped", "error", err.Error())
		os.Exit(1)
	}
	logger.Info("die-service stopped")
}
