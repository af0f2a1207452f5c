"""Why energy was not priced, or an offer not computed: stable codes, French words for the pages.

The engine never guesses: where it does not know a price, a calendar day or an off-peak
schedule, it says so with one of these codes (tariffs-and-admin.md §3.2: MyElectricalData
priced unknown Tempo days as a third of blue, made up EJP days, and applied today's
prices to past years).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Unpriced(StrEnum):
    """Why some of a day's energy carries no price (the day's coverage items)."""

    PRICE_UNKNOWN = "price_unknown"  # no price period of the offer at this kVA covers the day
    TEMPO_UNKNOWN = "tempo_unknown"  # the Tempo day's colour is not known
    EJP_UNKNOWN = "ejp_unknown"  # whether the day is an EJP day is not known
    SOBRIETE_UNKNOWN = "sobriete_unknown"  # whether the day is a Sobriété day is not known
    HOLIDAY_UNKNOWN = "holiday_unknown"  # whether the day is a public holiday is not known
    OFFPEAK_UNKNOWN = "offpeak_unknown"  # the meter's off-peak hours that day are not known
    NO_OFFPEAK = "no_offpeak"  # the meter's contract had no off-peak hours that day


class Assumed(StrEnum):
    """What a day's price rests on that is not known for that day (priced, and said so)."""

    OFFPEAK_ASSUMED = "offpeak_assumed"  # before the first schedule seen: the earliest one is used


class Blocked(StrEnum):
    """Why an offer cannot be computed at all for this meter."""

    NO_LOAD_CURVE = "no_load_curve"  # the offer needs half-hours; the meter has daily energy only
    KVA_NOT_OFFERED = "kva_not_offered"  # the offer has no price at the meter's subscribed power
    NO_OFFPEAK_HOURS = "no_offpeak_hours"  # the offer uses the meter's off-peak hours; it has none


LABELS = MappingProxyType({
    Unpriced.PRICE_UNKNOWN: "prix inconnu",
    Unpriced.TEMPO_UNKNOWN: "couleur Tempo inconnue",
    Unpriced.EJP_UNKNOWN: "jour EJP inconnu",
    Unpriced.SOBRIETE_UNKNOWN: "jour Sobriété inconnu",
    Unpriced.HOLIDAY_UNKNOWN: "jour férié inconnu",
    Unpriced.OFFPEAK_UNKNOWN: "heures creuses inconnues",
    Unpriced.NO_OFFPEAK: "pas d'heures creuses au contrat",
    Assumed.OFFPEAK_ASSUMED: "heures creuses supposées",
    Blocked.NO_LOAD_CURVE: "courbe de charge non activée",
    Blocked.KVA_NOT_OFFERED: "puissance non proposée",
    Blocked.NO_OFFPEAK_HOURS: "pas d'heures creuses au contrat",
})

EXPLANATIONS = MappingProxyType({
    Unpriced.PRICE_UNKNOWN: "Aucun tarif de cette offre n'est connu pour ce jour à la puissance souscrite : "
                            "ni l'énergie ni l'abonnement de ce jour ne sont chiffrés (un autre tarif "
                            "n'est jamais appliqué à sa place).",
    Unpriced.TEMPO_UNKNOWN: "La couleur Tempo de ce jour (de 6 h à 6 h le lendemain) n'est pas connue : "
                            "l'énergie de ces heures n'est pas chiffrée.",
    Unpriced.EJP_UNKNOWN: "On ne sait pas si ce jour était un jour EJP (pointe mobile de 7 h à 1 h le "
                          "lendemain) : l'énergie de ces heures n'est pas chiffrée.",
    Unpriced.SOBRIETE_UNKNOWN: "On ne sait pas si ce jour était un jour Sobriété : l'énergie de ce jour "
                               "n'est pas chiffrée.",
    Unpriced.HOLIDAY_UNKNOWN: "On ne sait pas si ce jour était férié, ce qui change son prix dans cette "
                              "offre : l'énergie de ce jour n'est pas chiffrée.",
    Unpriced.OFFPEAK_UNKNOWN: "Les heures creuses de votre contrat à cette date ne sont pas connues : "
                              "l'énergie de ce jour n'est pas répartie entre heures creuses et pleines.",
    Unpriced.NO_OFFPEAK: "Votre contrat n'avait pas d'heures creuses à cette date : cette offre, qui "
                         "les utilise, n'est pas chiffrée pour ce jour.",
    Assumed.OFFPEAK_ASSUMED: "Ce jour est antérieur aux premières heures creuses connues de votre contrat : "
                             "il est calculé avec celles-ci, les plus anciennes que Relevé ait vues.",
    Blocked.NO_LOAD_CURVE: "Cette offre se calcule demi-heure par demi-heure, et la courbe de charge de ce "
                           "compteur n'est pas activée. Pour l'activer : connectez-vous à votre espace "
                           "client Enedis (mon-compte-particulier.enedis.fr), choisissez votre compteur, "
                           "puis dans « Gérer l'accès à mes données », activez l'enregistrement de la "
                           "consommation horaire et sa transmission. La collecte commence ce jour-là (les "
                           "jours antérieurs ne peuvent pas être récupérés) et la courbe apparaît dans "
                           "Relevé le lendemain.",
    Blocked.KVA_NOT_OFFERED: "Cette offre n'est pas proposée à la puissance souscrite de votre compteur.",
    Blocked.NO_OFFPEAK_HOURS: "Cette offre applique les heures creuses de votre contrat, et votre contrat "
                              "n'en comporte pas : son coût ne peut pas être calculé.",
})
