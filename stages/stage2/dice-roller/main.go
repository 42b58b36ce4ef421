// Command dice-roller rolls dice on /roll. It knows the dice itself: fair and
// risky are hard-coded in dice.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/go-o11y-workshop/kit/stages/stage2/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage2/internal/telemetry"
)

const (
	serviceName = "dice-roller"
	defaultPort = 8101
)

type config struct {
	port            int
	maxDelay        time.Duration
	shutdownTimeout time.Duration
}

func loadConfig() (config, error) {
	var c config
	var err error
	if c.port, err = service.Port(defaultPort); err != nil {
		return c, err
	}
	if c.maxDelay, err = service.Duration("ROLL_MAX_DELAY", time.Second); err != nil {
		return c, err
	}
	if c.shutdownTimeout, err = service.Duration("SHUTDOWN_TIMEOUT", 10*time.Second); err != nil {
		return c, err
	}
	return c, nil
}

func main() {
	cfg, err := loadConfig()
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
	srv := newServer(cfg, tel)

	logger.Info("dice-roller started", "port", cfg.port, "roll_max_delay", cfg.maxDelay.String())
	addr := service.ListenAddr(cfg.port)
	if err := service.Run(ctx, addr, srv.routes(), logger, cfg.shutdownTimeout, shutdownOTel); err != nil {
		logger.Error("dice-roller stopped", "error", err.Error())
		os.Exit(1)
	}
	logger.Info("dice-roller stopped")
}
