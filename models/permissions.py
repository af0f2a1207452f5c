"""Permission codes and the system roles: written once, here, and referenced by constant.

A permission is a `resource:action` code. Roles group them; an account holds roles. Every
view of the admin area names the one code it needs (`webapp/admin`), and nothing else
grants access to it: no e-mail list, no flag on the account, no role name checked in code
(except `admin` for the last-administrator rule, `models/accounts.py`).

Reading one's own data is not a permission: it is ownership (a point belongs to one
account, docs/security.md), and an account with no permission at all is a household.
"""

from __future__ import annotations

USERS_READ = "users:read"
USERS_EDIT = "users:edit"
USERS_DELETE = "users:delete"
ROLES_EDIT = "roles:edit"
POINTS_READ = "points:read"
POINTS_REFRESH = "points:refresh"
POINTS_DETACH = "points:detach"
TRANSFERS_DECIDE = "transfers:decide"
OFFERS_EDIT = "offers:edit"
CONTRIBUTIONS_REVIEW = "contributions:review"
TEMPO_EDIT = "tempo:edit"
ECOWATT_REFRESH = "ecowatt:refresh"
AUDIT_READ = "audit:read"
SYSTEM_READ = "system:read"

# Every permission, with what it allows (shown in the role editor), in the order shown.
PERMISSIONS: dict[str, str] = {
    SYSTEM_READ: "Voir le tableau de bord technique (files, quotas, processus)",
    USERS_READ: "Voir les comptes (adresse, rôles, compteurs : jamais leurs relevés)",
    USERS_EDIT: "Désactiver ou réactiver un compte, lui envoyer un lien de mot de passe, oublier son cache",
    USERS_DELETE: "Supprimer un compte et ses données",
    ROLES_EDIT: "Créer, modifier et supprimer des rôles ; changer le rôle d'un compte",
    POINTS_READ: "Voir les compteurs (état, consentement, avancement : jamais leurs relevés)",
    POINTS_REFRESH: "Forcer l'actualisation d'un compteur",
    POINTS_DETACH: "Retirer un compteur d'un compte",
    TRANSFERS_DECIDE: "Approuver ou refuser les demandes de transfert de compteur",
    OFFERS_EDIT: "Gérer les fournisseurs, les offres et leurs prix",
    CONTRIBUTIONS_REVIEW: "Modérer les contributions",
    TEMPO_EDIT: "Actualiser et corriger les calendriers : Tempo, jours EJP et Sobriété",
    ECOWATT_REFRESH: "Actualiser les signaux EcoWatt",
    AUDIT_READ: "Lire et exporter le journal d'audit",
}

ADMIN, MODERATOR, VISITOR = "admin", "moderator", "visitor"
# The roles every installation has. They cannot be deleted; admin always holds every permission
# and visitor none (both fixed), the moderator's permissions can be edited.
SYSTEM_ROLES: dict[str, tuple[str, ...]] = {
    ADMIN: tuple(PERMISSIONS),
    MODERATOR: (OFFERS_EDIT, CONTRIBUTIONS_REVIEW),
    VISITOR: (),
}
DEFAULT_ROLE = VISITOR  # what a new account gets at sign-up
# The previous release gave every new account the role `user`. Its row stays while that
# release may still run (a rolling update, a rollback): holding no permission, never offered,
# its holders moved to visitor by `seed_roles`. A later release removes it.
LEGACY_USER = "user"
FIXED_ROLES = frozenset({ADMIN, VISITOR, LEGACY_USER})
ROLE_LABELS = {ADMIN: "Administrateur", MODERATOR: "Modérateur", VISITOR: "Visiteur",
               LEGACY_USER: "Ancien rôle « user » (comme Visiteur)"}
