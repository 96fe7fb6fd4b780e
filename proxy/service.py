"""`customs run`: mitmproxy (explicit proxy + gateway) and the admin app in one asyncio loop."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator

import uvicorn
from mitmproxy import options
from mitmproxy.addons import block, core, disable_h2c, errorcheck, next_layer, proxyserver, tlsconfig, update_alt_svc
from mitmproxy.master import Master

from proxy.addon import CustomsAddon
from proxy.admin import build_admin_app
from proxy.ca import ensure_ca
from proxy.config import Config
from proxy.providers import AI_HOST_REGEXES
from proxy.services import Services, open_services

log = logging.getLogger("customs")

# The gateway listener is a mitmproxy reverse proxy; its nominal target is never contacted,
# because the addon sets the real upstream per request from the path.
GATEWAY_PLACEHOLDER = "gateway.customs.invalid"


class _AdminServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service owns SIGINT/SIGTERM: it stops the proxy and flushes the audit spool too.
        yield


def _mitm_options(config: Config) -> options.Options:
    p_host, p_port = config.listen.proxy
    g_host, g_port = config.listen.gateway
    return options.Options(
        mode=[f"regular@{p_host}:{p_port}", f"reverse:http://{GATEWAY_PLACEHOLDER}:80@{g_host}:{g_port}"],
        confdir=str(config.ca_dir),
        # Only AI hosts are intercepted; every other host is tunnelled untouched.
        allow_hosts=[*AI_HOST_REGEXES, rf"^{GATEWAY_PLACEHOLDER.replace('.', r'\.')}(:\d+)?$"],
        http3=False,
    )


def _mitm_master(opts: options.Options) -> Master:
    """mitmproxy with only the addons a proxy needs, not mitmdump's thirty.

    mitmproxy calls every hook of every addon on every request (~150 µs of bookkeeping per
    hook with mitmdump's set, four hooks per exchange). Customs uses none of the interactive
    features (playback, map/modify rules, saving flows, the mitm.it page, mitmproxy's own proxy
    auth, which would break Bearer keys on the gateway); it keeps the proxy server, layer
    selection (allow_hosts), TLS interception, h2c and Alt-Svc handling for correctness, the
    block on public client addresses, and the check that stops startup on errors (a port in use).
    """
    master = Master(opts)
    master.addons.add(
        core.Core(),
        block.Block(),
        disable_h2c.DisableH2C(),
        proxyserver.Proxyserver(),
        next_layer.NextLayer(),
        tlsconfig.TlsConfig(),
        update_alt_svc.UpdateAltSvc(),
        errorcheck.ErrorCheck(),
    )
    return master


def banner(config: Config) -> str:
    ph, pp = config.listen.proxy
    gh, gp = config.listen.gateway
    ah, ap = config.listen.admin
    return "\n".join([
        "Customs is running.",
        f"  explicit proxy (Copilot, HTTPS_PROXY): http://USER:VIRTUAL_KEY@{ph}:{pp}",
        f"  gateway (base URLs):  OpenAI    http://{gh}:{gp}/openai/v1",
        f"                        Anthropic http://{gh}:{gp}/anthropic",
        f"                        Gemini    http://{gh}:{gp}/gemini   Azure http://{gh}:{gp}/azure/<resource>",
        f"  admin: http://{ah}:{ap}/healthz /readyz /metrics /dashboard",
        f"  CA certificate (trust it for the explicit proxy): {config.ca_cert.resolve()}",
        "    e.g. NODE_EXTRA_CA_CERTS / SSL_CERT_FILE; `customs ca` shows how.",
    ])


async def serve(config: Config, services: Services | None = None) -> None:
    """Run until SIGINT/SIGTERM; then stop accepting, finish, and flush the audit spool."""
    ensure_ca(config.ca_dir)
    s = services or open_services(config)
    master = _mitm_master(_mitm_options(config))
    insecure = any(pc.insecure for pc in config.providers.values())
    master.options.update(
        connection_strategy="lazy",
        # mitmproxy's own limit sits above ours so that Customs answers in the provider's format.
        body_size_limit=str(config.limits.max_body_bytes * 2 + 1024),
        ssl_insecure=insecure,
    )
    addon = CustomsAddon(s)
    master.addons.add(addon)
    admin_host, admin_port = config.listen.admin
    admin = _AdminServer(uvicorn.Config(build_admin_app(s, lambda: _readiness(s, master)), host=admin_host,
                                        port=admin_port, log_level="warning", lifespan="off", access_log=False))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mitm_task = asyncio.create_task(master.run())
    upkeep = asyncio.create_task(_reconcile_budgets(s))
    admin_task = asyncio.create_task(admin.serve())
    await asyncio.sleep(0.3)
    if mitm_task.done() or admin_task.done():
        s.close()
        raise SystemExit("Customs could not start its listeners (is a port in use?)")
    # Detector engines, policy bundle and mitmproxy are now loaded: move their objects out of
    # the collector's reach, so the occasional full collection no longer walks hundreds of
    # thousands of long-lived objects in the middle of a request.
    gc.freeze()
    print(banner(config), flush=True)
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({mitm_task, admin_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    master.shutdown()
    upkeep.cancel()
    admin.should_exit = True
    await asyncio.gather(mitm_task, admin_task, return_exceptions=True)
    s.auditor.flush(timeout=10)
    s.close()


async def _reconcile_budgets(s: Services, every_s: float = 30.0) -> None:
    """Expire reservations left behind by crashed processes (runs off the loop: it does I/O)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(s.ledger.reconcile)
        except Exception:  # noqa: BLE001 - retried next round; readiness reports a dead ledger
            log.exception("budget reconcile failed")


def _readiness(s: Services, master: Master) -> dict[str, bool]:
    checks = {"proxy": True, "policy": bool(s.policy.revision)}
    try:
        s.ledger.report(user="")
        checks["budgets"] = True
    except Exception:  # noqa: BLE001 - any ledger failure means not ready
        checks["budgets"] = False
    m = s.auditor.metrics()
    checks["audit_spool"] = m.get("spool_bytes", 0.0) < m.get("spool_max_bytes", float("inf"))
    return checks


def run(config: Config) -> int:
    # The audit shipper and the spool's fsync run on threads. With CPython's default 5 ms GIL
    # switch interval a busy background thread could hold the event loop back for that long
    # on every request; a short interval keeps the loop's latency in the microseconds.
    sys.setswitchinterval(0.0002)
    logging.basicConfig(level=os.environ.get("CUSTOMS_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(config))
    return 0
