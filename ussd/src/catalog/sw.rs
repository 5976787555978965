//! Kiswahili.

use mkoba_ledger::Rejection;

use super::Msg;

pub(super) fn text(msg: Msg) -> &'static str {
    use Msg::*;
    match msg {
        NavBack => "0 Nyuma",
        NavHome => "00 Mwanzo",
        NavMore => "98 Zaidi",

        MainTitle => "Habari {name}",
        MenuSend => "Tuma pesa",
        MenuWithdraw => "Toa pesa",
        MenuAirtime => "Nunua muda wa maongezi",
        MenuBuy => "Nunua bando na zaidi",
        MenuPay => "Lipa mfanyabiashara",
        MenuBalance => "Salio langu",
        MenuApprovals => "Idhini",
        MenuAccount => "Akaunti yangu",

        HintChoice => "Chaguo si sahihi.",
        HintInvalid => "Si sahihi.",
        HintName => "Andika herufi 2 hadi 30.",
        HintPinDigits => "PIN iwe tarakimu {digits}.",
        HintPinWeak => "PIN hiyo ni rahisi kukisia.",
        HintPinMismatch => "PIN hazilingani.",
        HintPinSame => "Chagua PIN tofauti.",
        HintNumber => "Nambari ya simu si sahihi.",
        HintNotCustomer => "Nambari hiyo haiko kwenye mkoba.",
        HintAmount => "Kiasi si sahihi.",
        HintWrongPin => "PIN si sahihi, zimebaki {count}.",
        HintAgent => "Nambari ya wakala haijulikani.",
        HintTill => "Nambari ya duka si sahihi.",
        HintMerchant => "Nambari ya biashara haijulikani.",
        HintCode => "Nambari si sahihi.",
        HintReference => "Nambari ya akaunti si sahihi.",
        HintPerCharge => "Kisizidi jumla, {amount}.",
        HintDays => "Weka siku {count} hadi {days}.",

        RegWelcome => "Karibu mkoba. Fungua pochi bure.\nChagua lugha:",
        RegName => "Andika jina lako kamili",
        RegPin => "Weka PIN mpya ya tarakimu {digits}",
        RegPinAgain => "Weka PIN tena",
        RegTerms => "Fungua pochi kwa jina {name}? Unakubali masharti ya {terms}.",
        RegDone => "Karibu {name}! Pochi yako ya mkoba iko tayari. Piga tena kuitumia.",
        RegDeclined => "Hakuna pochi iliyofunguliwa. Piga tena wakati wowote.",
        RegAlready => "Nambari hii tayari ina pochi. Piga tena kuitumia.",
        Accept => "Kubali",
        Decline => "Kataa",
        Approve => "Idhinisha",

        SendRecipient => "Weka nambari ya simu",
        SendAmount => "Tuma kwa {name}\nWeka kiasi ({currency})",
        SendConfirm => "Tuma {amount} kwa {name}, ada {fee}. Weka PIN kuthibitisha",
        SendDone => "Umetuma {amount} kwa {name}. Nambari {code}. Ada {fee}.",
        CancelHint => "Umekosea? Sitisha ndani ya sekunde {seconds} kwenye Akaunti yangu.",
        BalanceLine => "Salio {balance}.",

        WithdrawAgent => "Weka nambari ya wakala",
        WithdrawTill => "Weka nambari ya duka",
        WithdrawAmount => "Toa kwa {name}\nWeka kiasi ({currency})",
        WithdrawConfirm => "Toa {amount} kwa {name}, ada {fee}. Weka PIN kuthibitisha",
        WithdrawDone => {
            "Utoaji wa {amount} kwa {name} uko tayari. Mwonyeshe wakala nambari {code} upate pesa."
        }

        AirtimeNumber => "Weka nambari ya simu ya kuongezea",
        AirtimeAmount => "Muda wa maongezi kwa {name}\nWeka kiasi ({currency})",
        YourPhone => "simu yako",
        AirtimeConfirm => "Nunua muda wa {amount} kwa {name}, ada {fee}. Weka PIN kuthibitisha",
        AirtimeDone => "Umenunua muda wa maongezi wa {amount} kwa {name}. Nambari {code}.",

        BuyTitle => "Nunua",
        BuyAirtimeOther => "Muda wa maongezi kwa nambari nyingine",
        BuyData => "Bando za intaneti",
        BuyDigital => "Makala, nyimbo na michezo",
        CategoriesTitle => "Chagua aina",
        CatData => "Bando za intaneti",
        CatArticle => "Makala",
        CatSong => "Nyimbo",
        CatGame => "Michezo",
        CatSoftware => "Programu",
        ProductLine => "{item} {amount}",
        ProductsEmpty => "Bado hakuna bidhaa hapa.",
        ProductConfirm => "Nunua {item} kwa {amount}. Weka PIN kuthibitisha",
        ProductDone => "Umenunua {item} kwa {amount}. Nambari {code}. Utaipata kwa SMS.",

        PayCode => "Weka nambari ya biashara",
        PayReference => "Lipa {name}\nWeka nambari ya akaunti",
        PayAmount => "Lipa {name}\nWeka kiasi ({currency})",
        PayConfirm => "Lipa {amount} kwa {name}, ada {fee}. Weka PIN kuthibitisha",
        PayConfirmRef => {
            "Lipa {amount} kwa {name} akaunti {reference}, ada {fee}. Weka PIN kuthibitisha"
        }
        PayDone => "Umelipa {amount} kwa {name}. Nambari {code}.",

        BalancePin => "Weka PIN kuona salio",
        BalanceShow => "Salio lako ni {balance}.",

        ApprovalsTitle => "Yanasubiri idhini yako:",
        ApprovalsEmpty => "Hakuna kinachosubiri idhini yako.",
        ApprovalLineCash => "{amount} pesa taslimu kwa {name}",
        ApprovalLinePay => "{amount} kwa {name}",
        ApprovalCash => "Toa {amount} kwa {name}, ada {fee}?",
        ApprovalPay => "Lipa {amount} kwa {name}, ada {fee}?",
        ApprovePin => "Weka PIN kuidhinisha",
        DeclinePin => "Weka PIN kukataa",
        ApprovedDone => "Imeidhinishwa. Nambari {code}.",
        DeclinedDone => "Imekataliwa. Hakuna pesa iliyohamishwa.",
        ApprovalLineAllow => "{name}: ruhusa hadi {amount}",
        ApprovalAllow => "Ruhusu {name} akutoze?\nJumla {amount}\nKila malipo hadi {max}\nHadi {date}",
        ApprovalPayFor => "Lipa {amount} kwa {name} kwa ajili ya {item}, ada {fee}?",
        Allow => "Ruhusu",
        AllowanceDone => {
            "{name} sasa anaweza kukutoza hadi {amount} mpaka {date}. Futa wakati wowote kwenye Akaunti yangu."
        }
        AllowanceUnknown => {
            "Hatukuweza kuthibitisha ruhusa hii. Angalia Akaunti yangu > Ruhusa kabla ya kujaribu tena."
        }

        AccountTitle => "Akaunti yangu",
        AccStatement => "Taarifa fupi",
        AccChangePin => "Badilisha PIN",
        AccLanguage => "Lugha",
        AccLimits => "Viwango na daraja",
        AccCancel => "Sitisha utumaji wa mwisho",
        AccReverse => "Rejesha pesa ulizotuma",
        StatementPin => "Weka PIN kuona taarifa",
        StatementTitle => "Miamala ya mwisho:",
        StatementLine => "{date} {kind} {amount} {name}",
        StatementEmpty => "Bado hakuna miamala.",
        KindDeposit => "Weka",
        KindWithdrawal => "Toa",
        KindTransfer => "Tuma",
        KindMerchantPayment => "Malipo",
        KindPurchase => "Ununuzi",
        KindFee => "Ada",
        KindCommission => "Kamisheni",
        KindReversal => "Marejesho",
        KindRefund => "Rejesho",
        KindFloat => "Floti",
        KindAdjustment => "Marekebisho",
        PinNew => "Weka PIN mpya ya tarakimu {digits}",
        PinForced => "Badilisha PIN yako kwanza. Weka PIN mpya ya tarakimu {digits}",
        PinNewAgain => "Weka PIN mpya tena",
        PinCurrent => "Weka PIN yako ya sasa",
        PinChanged => "PIN yako imebadilishwa.",
        LanguageTitle => "Chagua lugha",
        LanguageSet => "Lugha imebadilishwa.",
        LimitsPin => "Weka PIN kuona viwango",
        LimitsShow => {
            "Daraja {tier}\nKwa muamala: {amount}\nKwa siku: {daily}, imebaki {left}\nSalio la juu: {balance}"
        }
        CancelPin => "Weka PIN kusitisha utumaji wa mwisho",
        CancelDone => "Imesitishwa. {amount} imerudi kwenye pochi yako. Nambari {code}.",
        ReverseTitle => "Ni utumaji upi urejeshwe?",
        ReverseLine => "{amount} kwa {name} {date}",
        ReverseEmpty => "Hakuna utumaji wa karibuni unaoweza kurejeshwa.",
        ReverseConfirm => "Rejesha {amount} ulizotuma kwa {name} {date}? Weka PIN kuthibitisha",
        ReverseDone => "Imerejeshwa. {amount} imerudi kwenye pochi yako. Nambari {code}.",
        AccAllowances => "Ruhusa",
        AllowancesTitle => "Ruhusa za kukutoza",
        AllowMine => "Ruhusa zangu",
        AllowNew => "Ruhusa mpya",
        AllowListTitle => "Ruhusa zako:",
        AllowancesEmpty => "Huna ruhusa yoyote inayotumika.",
        AllowanceLine => "{name} {amount} hadi {date}",
        AllowanceDetail => "{name}\nImetumika {spent}/{amount}\nKila malipo hadi {max}\nHadi {date}",
        Revoke => "Futa",
        RevokeConfirm => "Futa ruhusa ya {name}? Hataweza kukutoza tena.",
        Keep => "Iache",
        RevokeDone => "Imefutwa. {name} hawezi kukutoza tena.",
        AllowCap => "Ruhusu {name} akutoze\nWeka kiasi cha juu cha jumla ({currency})",
        AllowPerCharge => "Weka kiasi cha juu kwa kila malipo ({currency})",
        AllowDays => "Kwa siku ngapi? Hadi {days}",
        AllowConfirm => {
            "Ruhusu {name}\nJumla {amount}\nKila malipo hadi {max}\nSiku {days}\nWeka PIN kuthibitisha"
        }

        PinLocked => "PIN yako imefungwa. Tembelea wakala wa mkoba na kitambulisho chako.",
        TooManyInvalid => "Majaribio mengi yasiyo sahihi. Tafadhali piga tena.",
        DialledPin => "Kwa usalama wako, usiandike PIN yako kwenye namba ya kupiga. Piga tena na uiweke ukiombwa.",
        Unavailable => "Huduma haipatikani. Tafadhali jaribu tena baadaye.",
        OutcomeUnknown => {
            "Hatukuweza kuthibitisha muamala huu. Angalia SMS na salio kabla ya kujaribu tena."
        }
    }
}

pub(super) fn rejection(r: Rejection) -> &'static str {
    use Rejection::*;
    match r {
        AmountEmpty => "Tafadhali weka kiasi.",
        AmountInvalid => "Weka kiasi kwa tarakimu, mfano 150 au 150.50.",
        AmountNegative => "Kiasi hakiwezi kuwa hasi.",
        AmountNotPositive => "Kiasi kiwe zaidi ya sifuri.",
        AmountTooPrecise => "Kiasi kina desimali nyingi mno.",
        AmountExceedsMaximum | AmountOverflow => "Kiasi ni kikubwa mno.",
        BelowMinimumAmount => "Kiasi ni chini ya kiwango cha chini.",
        CurrencyMismatch => "Hii haiwezi kulipwa kwa sarafu yako.",
        CurrencyNotEnabled => "Sarafu hii haipatikani.",
        AccountNotFound => "Akaunti haikupatikana.",
        AccountFrozen => "Akaunti hii imesimamishwa. Piga huduma kwa wateja.",
        AccountClosed => "Akaunti hii imefungwa.",
        AccountKindNotAllowed => "Hili haliruhusiwi kwa akaunti hii.",
        SameAccount => "Huwezi kujitumia pesa mwenyewe.",
        InsufficientFunds => "Huna pesa za kutosha kwa hili.",
        ExceedsTransactionLimit => "Kiasi kinazidi kikomo chako kwa muamala.",
        ExceedsDailyLimit => "Hii itazidi kikomo chako cha siku.",
        ExceedsBalanceLimit => "Pochi inayopokea haiwezi kushika kiasi hiki.",
        IdempotencyKeyInvalid | MetadataTooLong | ExpiryInvalid => {
            "Hitilafu imetokea. Tafadhali jaribu tena."
        }
        IdempotencyKeyReused => "Ombi hili lilishafanywa. Angalia SMS yako.",
        MemoTooLong => "Nambari ya kumbukumbu ni ndefu mno.",
        PendingNotFound => "Hakuna cha kusitisha au kuidhinisha.",
        PendingAlreadyPosted => "Hili lilishakamilika.",
        PendingAlreadyVoided => "Hili lilishasitishwa.",
        PendingExpired => "Muda wa kufanya hili umepita.",
        PostExceedsPending => "Kiasi kinazidi kilichohifadhiwa.",
        TransactionNotFound => "Muamala haukupatikana.",
        ReversalNotAllowed => "Muamala huu hauwezi kurejeshwa.",
        ReversalWindowClosed => "Muda wa kurejesha umepita.",
        ReversalAttemptsExhausted => "Muamala huu hauwezi kurejeshwa tena.",
        ReversalNothingRecoverable => "Mpokeaji hana pesa za kurejesha.",
        AccountBlacklisted => "Akaunti hii imezuiwa. Piga huduma kwa wateja.",
        RefundNotAllowed => "Malipo haya hayawezi kurejeshwa.",
        RefundWindowClosed => "Muda wa kurejesha umepita.",
        RefundExceedsPayment => "Rejesho ni zaidi ya malipo.",
        AllowanceNotFound => "Ruhusa hii haikupatikana.",
        AllowanceRevoked => "Ruhusa hii ilifutwa.",
        AllowanceExpired => "Muda wa ruhusa hii umeisha.",
        AllowancePerChargeExceeded => "Kiasi ni zaidi ya kikomo cha ruhusa kwa kila malipo.",
        AllowanceCapExceeded => "Ruhusa hii imetumika yote.",
    }
}
