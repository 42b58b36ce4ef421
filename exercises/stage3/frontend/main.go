// Command frontend serves the page with the Roll button and relays each roll
// to the dice-roller.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry"
)

const (
	serviceName = "frontend"
	defaultPort = 8105
)

type config struct {
	port            int
	diceRollerURL   string
	dieServiceURL   string
	backendTimeout  time.Duration
	shutdownTimeout time.Duration
}

func loadConfig() (config, error) {
	c := config{
		diceRollerURL: service.URL("DICE_ROLLER_URL", "http://localhost:8104"),
		dieServiceURL: service.URL("DIE_SERVICE_URL", "http://localhost:8103"),
	}
	var err error
	if c.port, err = service.Port(defaultPort); err != nil {
		return c, err
	}
	if c.backendTimeout, err = service.Duration("BACKEND_TIMEOUT", 5*time.Second); err != nil {
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

	logger.Info("frontend started", "port", cfg.port, "dice_roller_url", cfg.diceRollerURL,
		"die_service_url", cfg.dieServiceURL)
	// Fill the dropdown's list now if the die-service is up; rolls retry.
	// The fetch has a span of its own, so its log line links to its trace.
	go func() {
		ctx, span := tel.Tracer(serviceName).Start(ctx, "load die list")
		defer span.End()
		_, _ = srv.catalog.List(ctx)
	}()

	addr := service.ListenAddr(cfg.port)
	if err := service.Run(ctx, addr, srv.routes(), logger, cfg.shutdownTimeout, shutdownOTel); err != nil {
		logger.Error("frontend stopped", "error", err.Error())
		os.Exit(1)
	}
	logger.Info("frontend stopped")
}
