//! Français. GSM-7 has é è ù à É but not ê â î ô û ç: words are chosen to avoid them.

use mkoba_ledger::Rejection;

use super::Msg;

pub(super) fn text(msg: Msg) -> &'static str {
    use Msg::*;
    match msg {
        NavBack => "0 Retour",
        NavHome => "00 Accueil",
        NavMore => "98 Plus",

        MainTitle => "Bonjour {name}",
        MenuSend => "Envoyer de l'argent",
        MenuWithdraw => "Retirer",
        MenuAirtime => "Acheter du crédit",
        MenuBuy => "Forfaits et plus",
        MenuPay => "Payer un marchand",
        MenuBalance => "Mon solde",
        MenuApprovals => "Demandes",
        MenuAccount => "Mon compte",

        HintChoice => "Choix invalide.",
        HintInvalid => "Saisie invalide.",
        HintName => "Entrez 2 à 30 lettres.",
        HintPinDigits => "Le PIN a {digits} chiffres.",
        HintPinWeak => "Ce PIN est trop facile.",
        HintPinMismatch => "Les PIN sont différents.",
        HintPinSame => "Choisissez un autre PIN.",
        HintNumber => "Numéro invalide.",
        HintNotCustomer => "Ce numéro n'est pas sur mkoba.",
        HintAmount => "Montant invalide.",
        HintWrongPin => "PIN incorrect, reste {count} essais.",
        HintAgent => "Agent inconnu.",
        HintTill => "Numéro de boutique invalide.",
        HintMerchant => "Marchand inconnu.",
        HintCode => "Code invalide.",
        HintReference => "Référence invalide.",
        HintPerCharge => "Pas plus que le plafond, {amount}.",
        HintDays => "Entrez {count} à {days} jours.",

        RegWelcome => "Bienvenue chez mkoba. Ouvrez un compte gratuit.\nLangue:",
        RegName => "Entrez votre nom complet",
        RegPin => "Créez un PIN de {digits} chiffres",
        RegPinAgain => "Entrez le PIN à nouveau",
        RegTerms => "Ouvrir un compte au nom de {name}? Vous acceptez les conditions: {terms}.",
        RegDone => "Bienvenue {name}! Votre compte mkoba est ouvert. Rappelez pour l'utiliser.",
        RegDeclined => "Aucun compte ouvert. Rappelez quand vous voulez.",
        RegAlready => "Ce numéro a déjà un compte. Rappelez pour l'utiliser.",
        Accept => "Accepter",
        Decline => "Refuser",
        Approve => "Approuver",

        SendRecipient => "Entrez le numéro",
        SendAmount => "Envoi à {name}\nEntrez le montant ({currency})",
        SendConfirm => "Envoyer {amount} à {name}, frais {fee}. Confirmez avec le PIN",
        SendDone => "{amount} envoyés à {name}. Code {code}. Frais {fee}.",
        CancelHint => "Erreur? Annulez sous {seconds}s dans Mon compte.",
        BalanceLine => "Solde {balance}.",

        WithdrawAgent => "Entrez le numéro de l'agent",
        WithdrawTill => "Entrez le numéro de boutique",
        WithdrawAmount => "Retrait chez {name}\nEntrez le montant ({currency})",
        WithdrawConfirm => "Retirer {amount} chez {name}, frais {fee}. Confirmez avec le PIN",
        WithdrawDone => {
            "Retrait de {amount} chez {name} en attente. Montrez le code {code} à l'agent."
        }

        AirtimeNumber => "Entrez le numéro à recharger",
        AirtimeAmount => "Crédit pour {name}\nEntrez le montant ({currency})",
        YourPhone => "votre téléphone",
        AirtimeConfirm => "Crédit de {amount} pour {name}, frais {fee}. Confirmez avec le PIN",
        AirtimeDone => "Crédit de {amount} acheté pour {name}. Code {code}.",

        BuyTitle => "Acheter",
        BuyAirtimeOther => "Crédit pour un autre numéro",
        BuyData => "Forfaits internet",
        BuyDigital => "Articles, musique et jeux",
        CategoriesTitle => "Choisissez une catégorie",
        CatData => "Forfaits internet",
        CatArticle => "Articles",
        CatSong => "Musique",
        CatGame => "Jeux",
        CatSoftware => "Logiciels",
        ProductLine => "{item} {amount}",
        ProductsEmpty => "Rien en vente ici pour l'instant.",
        ProductConfirm => "Acheter {item} pour {amount}. Confirmez avec le PIN",
        ProductDone => "{item} acheté pour {amount}. Code {code}. Envoi par SMS.",

        PayCode => "Entrez le code du marchand",
        PayReference => "Payer {name}\nEntrez le numéro de compte",
        PayAmount => "Payer {name}\nEntrez le montant ({currency})",
        PayConfirm => "Payer {amount} à {name}, frais {fee}. Confirmez avec le PIN",
        PayConfirmRef => {
            "Payer {amount} à {name} compte {reference}, frais {fee}. Confirmez avec le PIN"
        }
        PayDone => "{amount} payés à {name}. Code {code}.",

        BalancePin => "Entrez le PIN pour voir votre solde",
        BalanceShow => "Votre solde est de {balance}.",

        ApprovalsTitle => "En attente de vous:",
        ApprovalsEmpty => "Aucune demande en attente.",
        ApprovalLineCash => "{amount} en espèces chez {name}",
        ApprovalLinePay => "{amount} à {name}",
        ApprovalCash => "Retirer {amount} chez {name}, frais {fee}?",
        ApprovalPay => "Payer {amount} à {name}, frais {fee}?",
        ApprovePin => "Entrez le PIN pour approuver",
        DeclinePin => "Entrez le PIN pour refuser",
        ApprovedDone => "Approuvé. Code {code}.",
        DeclinedDone => "Refusé. Aucun argent n'a bougé.",
        ApprovalLineAllow => "{name}: plafond {amount}",
        ApprovalAllow => "Autoriser {name}?\nPlafond {amount}\nMax {max} par paiement\nJusqu'au {date}",
        ApprovalPayFor => "Payer {amount} à {name} pour {item}, frais {fee}?",
        Allow => "Autoriser",
        AllowanceDone => {
            "{name} peut vous prélever {amount} au plus, jusqu'au {date}. Révocable dans Mon compte."
        }
        AllowanceUnknown => {
            "Autorisation non confirmée. Vérifiez Mon compte > Autorisations avant de réessayer."
        }

        AccountTitle => "Mon compte",
        AccStatement => "Mini relevé",
        AccChangePin => "Changer le PIN",
        AccLanguage => "Langue",
        AccLimits => "Plafonds et niveau",
        AccCancel => "Annuler le dernier envoi",
        AccReverse => "Retourner un envoi",
        StatementPin => "Entrez le PIN pour voir le relevé",
        StatementTitle => "Dernières opérations:",
        StatementLine => "{date} {kind} {amount} {name}",
        StatementEmpty => "Aucune opération pour l'instant.",
        KindDeposit => "Versement",
        KindWithdrawal => "Retrait",
        KindTransfer => "Transfert",
        KindMerchantPayment => "Paiement",
        KindPurchase => "Achat",
        KindFee => "Frais",
        KindCommission => "Commission",
        KindReversal => "Retour",
        KindRefund => "Rembours.",
        KindFloat => "Float",
        KindAdjustment => "Ajustement",
        PinNew => "Entrez un nouveau PIN de {digits} chiffres",
        PinForced => "Changez d'abord votre PIN. Entrez un nouveau PIN de {digits} chiffres",
        PinNewAgain => "Entrez le nouveau PIN à nouveau",
        PinCurrent => "Entrez votre PIN actuel",
        PinChanged => "Votre PIN a été changé.",
        LanguageTitle => "Choisissez la langue",
        LanguageSet => "Langue changée.",
        LimitsPin => "Entrez le PIN pour voir vos plafonds",
        LimitsShow => {
            "Niveau {tier}\nPar opération: {amount}\nPar jour: {daily}, reste {left}\nSolde max: {balance}"
        }
        CancelPin => "Entrez le PIN pour annuler le dernier envoi",
        CancelDone => "Annulé. {amount} est revenu sur votre compte. Code {code}.",
        ReverseTitle => "Quel envoi retourner?",
        ReverseLine => "{amount} à {name} {date}",
        ReverseEmpty => "Aucun envoi récent à retourner.",
        ReverseConfirm => "Retourner {amount} envoyé à {name} le {date}? Confirmez avec le PIN",
        ReverseDone => "Retourné. {amount} est revenu sur votre compte. Code {code}.",
        AccAllowances => "Autorisations",
        AllowancesTitle => "Autorisations",
        AllowMine => "Mes autorisations",
        AllowNew => "Nouvelle autorisation",
        AllowListTitle => "Vos autorisations:",
        AllowancesEmpty => "Aucune autorisation active.",
        AllowanceLine => "{name} {amount} au {date}",
        AllowanceDetail => "{name}\nUtilisé {spent}/{amount}\nMax {max} par paiement\nJusqu'au {date}",
        Revoke => "Révoquer",
        RevokeConfirm => "Révoquer l'autorisation de {name}? Il ne pourra plus vous prélever.",
        Keep => "Garder",
        RevokeDone => "Révoquée. {name} ne peut plus vous prélever.",
        AllowCap => "Autoriser {name}\nEntrez le plafond total ({currency})",
        AllowPerCharge => "Entrez le maximum par paiement ({currency})",
        AllowDays => "Pour combien de jours? Max {days}",
        AllowConfirm => {
            "Autoriser {name}\nPlafond {amount}\nMax {max}/paiement\n{days} jours\nConfirmez par PIN"
        }

        PinLocked => "Votre PIN est bloqué. Allez chez un agent mkoba avec votre pièce d'identité.",
        TooManyInvalid => "Trop d'erreurs de saisie. Veuillez rappeler.",
        DialledPin => "Pour votre sécurité, ne tapez jamais votre PIN dans le code composé. Rappelez et saisissez-le quand il est demandé.",
        Unavailable => "Service indisponible. Réessayez plus tard.",
        OutcomeUnknown => {
            "Opération non confirmée. Vérifiez vos SMS et votre solde avant de réessayer."
        }
    }
}

pub(super) fn rejection(r: Rejection) -> &'static str {
    use Rejection::*;
    match r {
        AmountEmpty => "Veuillez entrer un montant.",
        AmountInvalid => "Entrez le montant en chiffres, ex. 150 ou 150.50.",
        AmountNegative => "Montant négatif refusé.",
        AmountNotPositive => "Le montant doit dépasser zéro.",
        AmountTooPrecise => "Trop de décimales dans le montant.",
        AmountExceedsMaximum | AmountOverflow => "Montant trop élevé.",
        BelowMinimumAmount => "Montant inférieur au minimum.",
        CurrencyMismatch => "Paiement impossible dans votre devise.",
        CurrencyNotEnabled => "Cette devise n'est pas disponible.",
        AccountNotFound => "Compte introuvable.",
        AccountFrozen => "Ce compte est gelé. Appelez le service client.",
        AccountClosed => "Ce compte est fermé.",
        AccountKindNotAllowed => "Opération non autorisée pour ce compte.",
        SameAccount => "Vous ne pouvez pas vous envoyer de l'argent.",
        InsufficientFunds => "Solde insuffisant pour cette opération.",
        ExceedsTransactionLimit => "Montant au-dessus de votre plafond par opération.",
        ExceedsDailyLimit => "Cela dépasserait votre plafond journalier.",
        ExceedsBalanceLimit => "Le compte destinataire ne peut pas recevoir autant.",
        IdempotencyKeyInvalid | MetadataTooLong | ExpiryInvalid => {
            "Une erreur est survenue. Réessayez."
        }
        IdempotencyKeyReused => "Cette demande a déjà été faite. Vérifiez vos SMS.",
        MemoTooLong => "La référence est trop longue.",
        PendingNotFound => "Rien à annuler ou à approuver.",
        PendingAlreadyPosted => "C'est déjà fait.",
        PendingAlreadyVoided => "C'est déjà annulé.",
        PendingExpired => "Le délai est dépassé.",
        PostExceedsPending => "Montant supérieur à la réserve.",
        TransactionNotFound => "Opération introuvable.",
        ReversalNotAllowed => "Cette opération n'est pas réversible.",
        ReversalWindowClosed => "Le délai pour retourner cet envoi est dépassé.",
        ReversalAttemptsExhausted => "Cette opération a déjà été retournée.",
        ReversalNothingRecoverable => "Le destinataire n'a plus d'argent à rendre.",
        AccountBlacklisted => "Ce compte est bloqué. Appelez le service client.",
        RefundNotAllowed => "Ce paiement n'est pas remboursable.",
        RefundWindowClosed => "Le délai de remboursement est dépassé.",
        RefundExceedsPayment => "Le remboursement dépasse le paiement.",
        AllowanceNotFound => "Autorisation introuvable.",
        AllowanceRevoked => "Cette autorisation a été annulée.",
        AllowanceExpired => "Cette autorisation a expiré.",
        AllowancePerChargeExceeded => "Le montant dépasse le plafond par paiement.",
        AllowanceCapExceeded => "L'autorisation est épuisée.",
    }
}
