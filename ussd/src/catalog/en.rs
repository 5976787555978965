//! English.

use mkoba_ledger::Rejection;

use super::Msg;

pub(super) fn text(msg: Msg) -> &'static str {
    use Msg::*;
    match msg {
        NavBack => "0 Back",
        NavHome => "00 Home",
        NavMore => "98 More",

        MainTitle => "Hi {name}",
        MenuSend => "Send money",
        MenuWithdraw => "Withdraw cash",
        MenuAirtime => "Buy airtime",
        MenuBuy => "Buy data & more",
        MenuPay => "Pay merchant",
        MenuBalance => "My balance",
        MenuApprovals => "Approvals",
        MenuAccount => "My account",

        HintChoice => "Invalid choice.",
        HintInvalid => "Invalid entry.",
        HintName => "Enter 2 to 30 letters.",
        HintPinDigits => "The PIN must be {digits} digits.",
        HintPinWeak => "That PIN is too easy to guess.",
        HintPinMismatch => "The PINs did not match.",
        HintPinSame => "Choose a different PIN.",
        HintNumber => "Invalid phone number.",
        HintNotCustomer => "That number is not on mkoba.",
        HintAmount => "Invalid amount.",
        HintWrongPin => "Wrong PIN. {count} tries left.",
        HintAgent => "Unknown agent number.",
        HintTill => "Invalid store number.",
        HintMerchant => "Unknown merchant code.",
        HintCode => "Invalid code.",
        HintReference => "Invalid account number.",
        HintPerCharge => "It cannot be more than the total, {amount}.",
        HintDays => "Enter {count} to {days} days.",

        RegWelcome => "Welcome to mkoba. Open a free wallet.\nChoose language:",
        RegName => "Enter your full name",
        RegPin => "Create a {digits}-digit PIN",
        RegPinAgain => "Enter the PIN again",
        RegTerms => "Open a wallet for {name}? You accept the terms at {terms}.",
        RegDone => "Welcome {name}! Your mkoba wallet is ready. Dial again to use it.",
        RegDeclined => "No wallet was opened. Dial again any time.",
        RegAlready => "This number already has a wallet. Dial again to use it.",
        Accept => "Accept",
        Decline => "Decline",
        Approve => "Approve",

        SendRecipient => "Enter phone number",
        SendAmount => "Send to {name}\nEnter amount ({currency})",
        SendConfirm => "Send {amount} to {name}, fee {fee}. Enter PIN to confirm",
        SendDone => "Sent {amount} to {name}. Code {code}. Fee {fee}.",
        CancelHint => "Wrong number? Cancel within {seconds}s in My account.",
        BalanceLine => "Balance {balance}.",

        WithdrawAgent => "Enter agent number",
        WithdrawTill => "Enter store number",
        WithdrawAmount => "Withdraw at {name}\nEnter amount ({currency})",
        WithdrawConfirm => "Withdraw {amount} at {name}, fee {fee}. Enter PIN to confirm",
        WithdrawDone => {
            "Withdrawal of {amount} at {name} is ready. Show code {code} to the agent for your cash."
        }

        AirtimeNumber => "Enter the phone number to top up",
        AirtimeAmount => "Airtime for {name}\nEnter amount ({currency})",
        YourPhone => "your phone",
        AirtimeConfirm => "Buy {amount} airtime for {name}, fee {fee}. Enter PIN to confirm",
        AirtimeDone => "Bought {amount} airtime for {name}. Code {code}.",

        BuyTitle => "Buy",
        BuyAirtimeOther => "Airtime for another number",
        BuyData => "Data bundles",
        BuyDigital => "Articles, songs & games",
        CategoriesTitle => "Choose a category",
        CatData => "Data bundles",
        CatArticle => "Articles",
        CatSong => "Songs",
        CatGame => "Games",
        CatSoftware => "Software",
        ProductLine => "{item} {amount}",
        ProductsEmpty => "Nothing is on sale here yet.",
        ProductConfirm => "Buy {item} for {amount}. Enter PIN to confirm",
        ProductDone => "Bought {item} for {amount}. Code {code}. It will come by SMS.",

        PayCode => "Enter merchant code",
        PayReference => "Pay {name}\nEnter account number",
        PayAmount => "Pay {name}\nEnter amount ({currency})",
        PayConfirm => "Pay {amount} to {name}, fee {fee}. Enter PIN to confirm",
        PayConfirmRef => {
            "Pay {amount} to {name} for account {reference}, fee {fee}. Enter PIN to confirm"
        }
        PayDone => "Paid {amount} to {name}. Code {code}.",

        BalancePin => "Enter PIN to see your balance",
        BalanceShow => "Your balance is {balance}.",

        ApprovalsTitle => "Waiting for you:",
        ApprovalsEmpty => "Nothing is waiting for your approval.",
        ApprovalLineCash => "{amount} cash at {name}",
        ApprovalLinePay => "{amount} to {name}",
        ApprovalCash => "Withdraw {amount} at {name}, fee {fee}?",
        ApprovalPay => "Pay {amount} to {name}, fee {fee}?",
        ApprovePin => "Enter PIN to approve",
        DeclinePin => "Enter PIN to decline",
        ApprovedDone => "Approved. Code {code}.",
        DeclinedDone => "Declined. No money moved.",
        ApprovalLineAllow => "{name}: allow up to {amount}",
        ApprovalAllow => "Let {name} charge you?\nTotal {amount}\nMax {max} per charge\nUntil {date}",
        ApprovalPayFor => "Pay {amount} to {name} for {item}, fee {fee}?",
        Allow => "Allow",
        AllowanceDone => {
            "{name} can now charge you up to {amount} until {date}. Revoke it any time in My account."
        }
        AllowanceUnknown => {
            "We could not confirm this allowance. Check My account > Allowances before trying again."
        }

        AccountTitle => "My account",
        AccStatement => "Mini statement",
        AccChangePin => "Change PIN",
        AccLanguage => "Language",
        AccLimits => "Limits & tier",
        AccCancel => "Cancel last send",
        AccReverse => "Reverse a send",
        StatementPin => "Enter PIN to see your statement",
        StatementTitle => "Last transactions:",
        StatementLine => "{date} {kind} {amount} {name}",
        StatementEmpty => "No transactions yet.",
        KindDeposit => "Deposit",
        KindWithdrawal => "Withdrawal",
        KindTransfer => "Transfer",
        KindMerchantPayment => "Payment",
        KindPurchase => "Purchase",
        KindFee => "Fee",
        KindCommission => "Commission",
        KindReversal => "Reversal",
        KindRefund => "Refund",
        KindFloat => "Float",
        KindAdjustment => "Adjustment",
        PinNew => "Enter a new {digits}-digit PIN",
        PinForced => "Please change your PIN first. Enter a new {digits}-digit PIN",
        PinNewAgain => "Enter the new PIN again",
        PinCurrent => "Enter your current PIN",
        PinChanged => "Your PIN has been changed.",
        LanguageTitle => "Choose language",
        LanguageSet => "Language changed.",
        LimitsPin => "Enter PIN to see your limits",
        LimitsShow => {
            "Tier {tier}\nPer transaction: {amount}\nDaily: {daily}, {left} left\nMax balance: {balance}"
        }
        CancelPin => "Enter PIN to cancel your last send",
        CancelDone => "Cancelled. {amount} is back in your wallet. Code {code}.",
        ReverseTitle => "Which send to reverse?",
        ReverseLine => "{amount} to {name} {date}",
        ReverseEmpty => "No recent send can be reversed.",
        ReverseConfirm => "Reverse {amount} sent to {name} on {date}? Enter PIN to confirm",
        ReverseDone => "Reversed. {amount} is back in your wallet. Code {code}.",
        AccAllowances => "Allowances",
        AllowancesTitle => "Allowances",
        AllowMine => "My allowances",
        AllowNew => "New allowance",
        AllowListTitle => "Your allowances:",
        AllowancesEmpty => "You have no active allowances.",
        AllowanceLine => "{name} {amount} until {date}",
        AllowanceDetail => "{name}\nUsed {spent} of {amount}\nMax {max} per charge\nUntil {date}",
        Revoke => "Revoke",
        RevokeConfirm => "Revoke the allowance for {name}? It will not be able to charge you again.",
        Keep => "Keep it",
        RevokeDone => "Revoked. {name} can no longer charge you.",
        AllowCap => "Allow {name} to charge you\nEnter the total limit ({currency})",
        AllowPerCharge => "Enter the most for one charge ({currency})",
        AllowDays => "For how many days? Up to {days}",
        AllowConfirm => {
            "Allow {name}\nTotal {amount}\nMax {max} per charge\n{days} days\nEnter PIN to confirm"
        }

        PinLocked => "Your PIN is locked. Visit an mkoba agent with your ID to reset it.",
        TooManyInvalid => "Too many invalid entries. Please dial again.",
        DialledPin => "For your safety, never type your PIN in a dial code. Dial again and enter it when asked.",
        Unavailable => "Service unavailable. Please try again later.",
        OutcomeUnknown => {
            "We could not confirm this transaction. Check your SMS and balance before trying again."
        }
    }
}

pub(super) fn rejection(r: Rejection) -> &'static str {
    use Rejection::*;
    match r {
        AmountEmpty => "Please enter an amount.",
        AmountInvalid => "Enter the amount in numbers, e.g. 150 or 150.50.",
        AmountNegative => "The amount cannot be negative.",
        AmountNotPositive => "The amount must be more than zero.",
        AmountTooPrecise => "Too many decimal places in the amount.",
        AmountExceedsMaximum | AmountOverflow => "The amount is too large.",
        BelowMinimumAmount => "The amount is below the minimum.",
        CurrencyMismatch => "This cannot be paid in your currency.",
        CurrencyNotEnabled => "This currency is not available.",
        AccountNotFound => "The account was not found.",
        AccountFrozen => "This account is frozen. Please call customer care.",
        AccountClosed => "This account is closed.",
        AccountKindNotAllowed => "This is not allowed for this account.",
        SameAccount => "You cannot send money to yourself.",
        InsufficientFunds => "You do not have enough money for this.",
        ExceedsTransactionLimit => "The amount is above your limit per transaction.",
        ExceedsDailyLimit => "This would take you over your daily limit.",
        ExceedsBalanceLimit => "The receiving wallet cannot hold this much.",
        IdempotencyKeyInvalid | MetadataTooLong | ExpiryInvalid => {
            "Something went wrong. Please try again."
        }
        IdempotencyKeyReused => "This request was already made. Check your SMS.",
        MemoTooLong => "The reference is too long.",
        PendingNotFound => "There is nothing to cancel or approve.",
        PendingAlreadyPosted => "This was already completed.",
        PendingAlreadyVoided => "This was already cancelled.",
        PendingExpired => "The time to do this has passed.",
        PostExceedsPending => "The amount is more than was reserved.",
        TransactionNotFound => "The transaction was not found.",
        ReversalNotAllowed => "This transaction cannot be reversed.",
        ReversalWindowClosed => "The time to reverse this has passed.",
        ReversalAttemptsExhausted => "This transaction cannot be reversed again.",
        ReversalNothingRecoverable => "The recipient has no money left to return.",
        AccountBlacklisted => "This account is blocked. Please call customer care.",
        RefundNotAllowed => "This payment cannot be refunded.",
        RefundWindowClosed => "The time to refund this has passed.",
        RefundExceedsPayment => "The refund is more than the payment.",
        AllowanceNotFound => "This allowance was not found.",
        AllowanceRevoked => "This allowance was cancelled.",
        AllowanceExpired => "This allowance has expired.",
        AllowancePerChargeExceeded => "The charge is above the allowance limit per charge.",
        AllowanceCapExceeded => "The allowance is used up.",
    }
}
