"""The OpenAPI 3.1 document of `/api/v1` (`/api/v1/openapi.json`) and its readable page (`/api/v1/docs`).

Written by hand beside the routes (webapp/api/v1.py); tests/webapp/test_api_schema.py runs schemathesis
against a real `releve web` with it, so a route and its description cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template

from pipeline.api import MAX_DAYS, MAX_PUBLIC_DAYS
from webapp.api import bp

DATE = {"type": "string", "format": "date"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
INT = {"type": "integer"}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


QUOTA_HEADERS = {
    name: {"description": description, "schema": {"type": "string", "pattern": r"^[0-9]+/[0-9]+$"}}
    for name, description in (
        ("X-Quota-Cache-Minute", "lectures servies par le cache cette minute / limite"),
        ("X-Quota-Cache-Day", "lectures servies par le cache aujourd'hui (heure de Paris) / limite"),
        ("X-Quota-Upstream-Minute", "lectures ayant demandé un appel à Enedis cette minute / limite"),
        ("X-Quota-Upstream-Day", "lectures ayant demandé un appel à Enedis aujourd'hui / limite"),
    )
}
RETRY_AFTER = {"Retry-After": {"description": "secondes à attendre avant de redemander",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True}}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": {"type": "object", "properties": {
        "code": {"type": "string", "description": "code stable, à tester par les clients"},
        "message": {"type": "string", "description": "explication en français"},
    }, "required": ["code", "message"]}}),
    "Meter": obj({
        "pdl": {"type": "string", "pattern": "^[0-9]{14}$"},
        "name": {"type": "string"},
        "kind": {"enum": ["consumption", "production", "unknown"]},
        "status": {"enum": ["active", "consent_needed"]},
        "load_curve_enabled": {"type": "boolean"},
        "activation_date": NULLABLE_DATE,
    }),
    "Meters": obj({"meters": {"type": "array", "items": ref("Meter")}}),
    "Quota": obj({
        "used": {"type": "object", "additionalProperties": INT},
        "limits": {"type": "object", "additionalProperties": INT},
        "day_resets_at": {"type": ["string", "null"]},
    }),
    "Pending": obj({
        "status": {"const": "pending"},
        "pdl": {"type": "string"},
        "series": {"type": "string"},
        "start": DATE,
        "end": DATE,
        "retry_after": {"type": "integer", "minimum": 1},
        "reason": {"type": ["string", "null"], "description": "budget : la file de récupération de ce compte est "
                                                                "pleine pour quelques minutes"},
        "progress": obj({"days": INT, "cached": INT, "missing": INT}),
        "missing_days": {"type": "array", "items": DATE},
    }, required=["status", "pdl", "retry_after", "reason"]),
    "DailyEnergy": {"type": "object", "properties": {"date": DATE, "wh": {"type": ["integer", "null"]}},
                    "required": ["date", "wh"]},
    "LoadCurvePoint": obj({"start": {"type": "string", "format": "date-time",
                                     "description": "début de l'intervalle, heure de Paris avec décalage"},
                           "minutes": INT, "watts": INT, "wh": INT}),
    "MaxPower": obj({"date": DATE, "va": {"type": ["integer", "null"]}, "at": {"type": ["string", "null"]}}),
    "Customer": obj({"pdl": {"type": "string"}}, required=["pdl"]),
    "Costs": obj({"pdl": {"type": "string"}, "first": DATE, "last": DATE, "kva": INT,
                  "offer": obj({"id": INT, "name": {"type": "string"}, "supplier": {"type": "string"},
                                "option": {"type": "string"}, "chosen": {"type": "boolean"}}),
                  "missing_days": {"type": "array", "items": DATE},
                  "cost": {"type": "object", "description": "le résultat du moteur de coûts (models/costs/serial.py), "
                                                            "montants en texte décimal, sans les jours"}}),
    "Simulation": obj({"pdl": {"type": "string"}, "simulation": {"type": "object"}}),
    "Tempo": obj({"start": DATE, "end": DATE, "days": {"type": "array", "items": obj({
        "date": DATE, "colour": {"enum": ["BLUE", "WHITE", "RED"]}})}}),
    "EcoWatt": obj({"start": DATE, "end": DATE, "days": {"type": "array", "items": obj({
        "date": DATE, "value": INT, "message": {"type": "string"}, "hours": {"type": "array", "items": INT}})}}),
    "NationalConsumption": obj({"start": DATE, "end": DATE, "unit": {"const": "MW"}, "values": {
        "type": "array", "items": obj({"series": {"type": "string"}, "start": {"type": "string"},
                                       "end": {"type": "string"}, "mw": INT})}}),
}


def series_schema(values: str) -> dict[str, Any]:
    return obj({
        "status": {"enum": ["complete", "incomplete"]},
        "pdl": {"type": "string"}, "series": {"type": "string"}, "start": DATE, "end": DATE,
        "unit": {"type": "string"}, "first_available": DATE, "last_available": DATE,
        "reason": {"type": ["string", "null"], "description": "pourquoi des jours manquent sans être demandés : "
                                                                "consent_needed, series_not_available"},
        "missing_days": {"type": "array", "items": DATE},
        "partial_days": {"type": "array", "items": DATE},
        "values": {"type": "array", "items": ref(values)},
    })


PDL = {"name": "pdl", "in": "path", "required": True, "description": "numéro du point de livraison (14 chiffres)",
       "schema": {"type": "string", "pattern": "^[0-9]{14}$"}}


def range_params(max_days: int) -> list[dict[str, Any]]:
    return [
        {"name": "start", "in": "query", "required": True, "description": "premier jour (AAAA-MM-JJ)", "schema": DATE},
        {"name": "end", "in": "query", "required": True,
         "description": f"jour suivant le dernier (exclu) ; au plus {max_days} jours par requête", "schema": DATE},
    ]


def errors(*statuses: int) -> dict[str, Any]:
    texts = {400: "paramètre absent ou invalide, période vide ou trop longue (RANGE_TOO_LONG)",
             401: "secret d'API absent, inconnu ou révoqué, ou compte désactivé",
             404: "compteur absent de votre compte, ou série qu'il ne fournit pas",
             429: "quota atteint (QUOTA_EXCEEDED)"}
    out = {str(s): json_response(texts[s], ref("Error"), RETRY_AFTER if s == 429 else None) for s in statuses}
    out["default"] = json_response("autre erreur (503 pendant une panne, avec Retry-After ; 500)", ref("Error"))
    return out


def operation(summary: str, description: str, ok: dict[str, Any], *, params: list | None = None,
              public: bool = False, pending: bool = False, statuses: tuple[int, ...] = (400, 401, 404, 429)) -> dict:
    responses = {"200": json_response("réponse", ok, None if public else QUOTA_HEADERS)}
    if pending:
        responses["202"] = json_response("des jours manquent : leur récupération est demandée, redemandez après "
                                         "Retry-After", ref("Pending"), {**RETRY_AFTER, **QUOTA_HEADERS})
    responses |= errors(*(s for s in statuses if not (public and s in (401, 404, 429))))
    op: dict[str, Any] = {"summary": summary, "description": description, "parameters": params or [],
                          "responses": responses}
    if public:
        op["security"] = []
    return {"get": op}


def series_path(summary: str, series: str, values: str) -> dict[str, Any]:
    return operation(summary, f"Série `{series}`, depuis le cache ; au plus {MAX_DAYS[series]} jours.",
                     series_schema(values), params=[PDL, *range_params(MAX_DAYS[series])], pending=True)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Relevé API",
            "version": "1",
            "description": "Les relevés de vos compteurs Linky et les données publiques de RTE, servis depuis le "
                           "cache de la passerelle. Authentification : `Authorization: Bearer <secret d'API>` "
                           "(créé dans vos paramètres). Périodes : `start` inclus, `end` exclu. Des jours manquants "
                           "que Enedis peut fournir : réponse 202 avec `Retry-After`, la récupération est demandée.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "secret d'API créé dans vos paramètres"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/meters": operation("Vos compteurs", "Les compteurs de votre compte.", ref("Meters"),
                                 statuses=(401, 429)),
            "/meters/{pdl}": operation("Un compteur", "Un compteur de votre compte.", ref("Meter"), params=[PDL],
                                       statuses=(401, 404, 429)),
            "/meters/{pdl}/consumption/daily": series_path("Consommation quotidienne (Wh)", "daily_consumption",
                                                           "DailyEnergy"),
            "/meters/{pdl}/consumption/load-curve": series_path("Courbe de charge (W moyens)", "load_curve",
                                                                "LoadCurvePoint"),
            "/meters/{pdl}/consumption/max-power": series_path("Puissance maximale quotidienne (VA)", "max_power",
                                                               "MaxPower"),
            "/meters/{pdl}/production/daily": series_path("Production quotidienne (Wh)", "daily_production",
                                                          "DailyEnergy"),
            "/meters/{pdl}/production/load-curve": series_path("Courbe de production (W moyens)",
                                                               "production_load_curve", "LoadCurvePoint"),
            "/meters/{pdl}/contract": operation("Contrat", "Le contrat du compteur (puissance souscrite, heures "
                                                "creuses…), clé `contract`.", ref("Customer"), params=[PDL],
                                                pending=True, statuses=(401, 404, 429)),
            "/meters/{pdl}/address": operation("Adresse", "L'adresse du point de livraison, clé `address`.",
                                               ref("Customer"), params=[PDL], pending=True, statuses=(401, 404, 429)),
            "/meters/{pdl}/costs": operation(
                "Coûts", "Ce que l'électricité du compteur a coûté avec l'offre du foyer (ou celle que son contrat "
                "suggère), mois par mois (paramètre `months` : 12 ou 24). 404 NO_CONTRACT, NO_OFFER.",
                ref("Costs"), params=[PDL, {"name": "months", "in": "query", "required": False,
                                            "schema": {"enum": ["12", "24"]}}],
                pending=True, statuses=(400, 401, 404, 429)),
            "/meters/{pdl}/simulation": operation("Dernière simulation", "Le dernier résultat du simulateur "
                                                  "d'offres pour ce compteur (404 NO_SIMULATION sinon).",
                                                  ref("Simulation"), params=[PDL], statuses=(401, 404, 429)),
            "/quota": operation("Vos quotas", "Les compteurs de quota de ce secret d'API, sans en consommer.",
                                ref("Quota"), statuses=(401,)),
            "/tempo": operation("Couleurs Tempo", f"Publiques ; au plus {MAX_PUBLIC_DAYS['tempo']} jours.",
                                ref("Tempo"), params=range_params(MAX_PUBLIC_DAYS["tempo"]), public=True),
            "/ecowatt": operation("Signaux EcoWatt", f"Publics ; au plus {MAX_PUBLIC_DAYS['ecowatt']} jours.",
                                  ref("EcoWatt"), params=range_params(MAX_PUBLIC_DAYS["ecowatt"]), public=True),
            "/national-consumption": operation(
                "Consommation nationale (MW)", f"Publique ; au plus {MAX_PUBLIC_DAYS['national_consumption']} jours.",
                ref("NationalConsumption"), params=range_params(MAX_PUBLIC_DAYS["national_consumption"]), public=True),
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


@bp.get("/docs")
def docs():
    spec = document()
    return render_template("api/docs.html", spec=spec, paths=spec["paths"])
